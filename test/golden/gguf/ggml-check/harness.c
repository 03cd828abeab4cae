#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <assert.h>
#include <stdlib.h>
#define GGML_RESTRICT
typedef uint16_t ggml_fp16_t; typedef uint16_t ggml_half;
#define QK8_0 32
typedef struct { ggml_half d; int8_t qs[QK8_0]; } block_q8_0;
#define MAX(a,b) ((a)>(b)?(a):(b))
#include "fp16.inc"
#define GGML_FP32_TO_FP16(x) ggml_compute_fp32_to_fp16(x)
#include "qref.inc"
int main(int argc, char**argv){ /* stdin: float32 array; stdout: blocks */
  static float x[1<<20]; size_t n=fread(x,4,1<<20,stdin); static block_q8_0 y[1<<15];
  quantize_row_q8_0_ref(x,y,n); fwrite(y,sizeof(block_q8_0),n/32,stdout); return 0; }
