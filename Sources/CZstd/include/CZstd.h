#ifndef CZstd_H
#define CZstd_H
#include <zstd.h>
#endif
