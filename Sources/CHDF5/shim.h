// HDF5 (serial build) for Swift.
//
// HDF5's predefined types, property-list classes and flags are macros that expand to global
// variables behind H5open() calls or to casts; Swift cannot import them, so each one Pare
// uses is wrapped in a static inline function named pare_<MACRO>.
#include <hdf5.h>

static inline hid_t pare_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t pare_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t pare_H5E_DEFAULT(void) { return H5E_DEFAULT; }
static inline size_t pare_H5T_VARIABLE(void) { return H5T_VARIABLE; }

static inline unsigned pare_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned pare_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned pare_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned pare_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline H5F_libver_t pare_H5F_LIBVER_LATEST(void) { return H5F_LIBVER_LATEST; }

static inline hid_t pare_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t pare_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t pare_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }

static inline hid_t pare_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t pare_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t pare_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t pare_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t pare_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t pare_H5T_IEEE_F32BE(void) { return H5T_IEEE_F32BE; }
static inline hid_t pare_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t pare_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t pare_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t pare_H5T_STD_U16LE(void) { return H5T_STD_U16LE; }
static inline hid_t pare_H5T_C_S1(void) { return H5T_C_S1; }

// Frees the memory HDF5 allocated while reading variable-length data (H5Treclaim since 1.12).
static inline herr_t pare_vlen_reclaim(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

// Keeps file locking but tolerates file systems without locks (H5Pset_file_locking appeared in
// 1.10.7 and 1.12.1; older libraries always lock and this is a no-op).
static inline herr_t pare_set_file_locking(hid_t fapl) {
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
    return H5Pset_file_locking(fapl, 1, 1);
#else
    (void)fapl;
    return 0;
#endif
}

// The type of the link `name` (H5L_TYPE_HARD, _SOFT, _EXTERNAL or user-defined), or -1
// (H5Lget_info became H5Lget_info2 with another struct in 1.12).
static inline int pare_link_type(hid_t loc, const char *name) {
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t info;
    if (H5Lget_info2(loc, name, &info, H5P_DEFAULT) < 0) return -1;
#else
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
#endif
    return (int)info.type;
}
