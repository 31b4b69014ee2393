// OpenBLAS: CBLAS for dense math, plus the few LAPACK routines Pare calls
// (OpenBLAS ships LAPACK in the same library).
#include <cblas.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

// LAPACK, Fortran calling convention (column-major, arguments by pointer).
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);
