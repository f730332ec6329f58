#include <stddef.h>
#include <cblas.h>
// OpenBLAS thread control (declared in openblas_config.h / cblas.h on Debian; redeclared for other layouts).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// LAPACK (OpenBLAS ships it): Cholesky factorization and inverse from it, used by GPTQ.
// The trailing length is gfortran's hidden string-length argument; OpenBLAS's own C versions ignore it.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
