import CHDF5

/// Reads a variable-length string attribute's heap reference as it is stored, without following
/// it, so that `HDF5GlobalHeapCheck` can verify the heap before HDF5 reads it.
///
/// Why: HDF5 1.10 loops forever (or reads out of bounds) decoding a damaged global heap
/// collection, and it does so inside `H5Aread` of any variable-length string attribute
/// (`format`, `architecture`, `kind`, provenance `history`, ...). HDF5 has no call that returns
/// an attribute's raw bytes, but `H5Aread` copies the stored bytes into its conversion buffer
/// and then runs the conversion path from the stored type to the memory type. Reading into an
/// opaque type tagged `pareRawReference` of the stored size, through a conversion function
/// registered here that does nothing, leaves exactly the stored bytes: the sequence length (4),
/// the heap collection address (offset-sized) and the object index (4).
///
/// The function only accepts that exact path (variable-length string to the tagged opaque type
/// of the same size), so no other conversion in the process is affected.
enum HDF5RawReference {
    static let tag = "pareRawReference"

    /// Registers the conversion once per process (under the HDF5 lock).
    private static let registered: Bool = {
        HDF5.locked {
            let source = H5Strings.makeVariableUTF8()
            let target = H5Tcreate(H5T_OPAQUE, 16)
            defer { _ = H5Tclose(source); _ = H5Tclose(target) }
            guard source >= 0, target >= 0 else { return false }
            return H5Tregister(H5T_PERS_SOFT, "pare raw variable-length reference", source, target, convert) >= 0
        }
    }()

    /// The conversion: accepts only variable-length string -> our opaque tag of equal size, and
    /// then leaves the buffer alone (same size, so the stored bytes already are the result).
    private static let convert: H5T_conv_t = { source, target, cdata, _, _, _, _, _, _ in
        guard let cdata else { return -1 }
        guard cdata.pointee.command == H5T_CONV_INIT else { return 0 }
        cdata.pointee.need_bkg = H5T_BKG_NO
        guard H5Tis_variable_str(source) > 0, H5Tget_class(target) == H5T_OPAQUE,
              H5Tget_size(source) == H5Tget_size(target), let name = H5Tget_tag(target) else { return -1 }
        defer { H5free_memory(name) }
        return String(cString: name) == tag ? 0 : -1
    }

    /// The stored reference of the single variable-length string of `attribute`: `8 + offsetSize`
    /// bytes (length, collection address, object index).
    static func read(attribute: hid_t, offsetSize: Int) throws -> [UInt8] {
        try HDF5.locked {
            guard registered else { throw H5ContentProblem("cannot register the raw reference reader") }
            let size = 8 + offsetSize
            var bytes = [UInt8](repeating: 0, count: size)
            try HDF5.scoped(H5Tcreate(H5T_OPAQUE, size), .datatype, "creating an opaque type") { type in
                try HDF5.check(H5Tset_tag(type, tag), "tagging an opaque type")
                try HDF5.check(H5Aread(attribute, type, &bytes), "reading a string's heap reference")
            }
            return bytes
        }
    }
}
