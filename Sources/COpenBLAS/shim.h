#include <cblas.h>
// OpenBLAS thread control (declared in openblas_config.h / cblas.h on Debian; redeclared for other layouts).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
