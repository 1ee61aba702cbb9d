// Reads float32 rows from stdin and writes what llama.cpp's reference quantizers make of them.
// Input: records of [uint32 n][n float32], little-endian. Output: the encoded rows, concatenated.
// Usage: quant-ref <F16|BF16|Q8_0|Q4_0|Q5_0|Q4_K|Q5_K|Q6_K>
#include "ggml-impl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ggml-quants.c's quantizers, declared with void * so this file needs no block structs.
void quantize_row_q8_0_ref(const float * x, void * y, int64_t k);
void quantize_row_q4_0_ref(const float * x, void * y, int64_t k);
void quantize_row_q5_0_ref(const float * x, void * y, int64_t k);
void quantize_row_q4_K_ref(const float * x, void * y, int64_t k);
void quantize_row_q5_K_ref(const float * x, void * y, int64_t k);
void quantize_row_q6_K_ref(const float * x, void * y, int64_t k);

// The few ggml.c symbols ggml-quants.c links against (only its validation code calls them).
void ggml_abort(const char * file, int line, const char * fmt, ...) {
    fprintf(stderr, "ggml_abort at %s:%d (%s)\n", file, line, fmt);
    abort();
}
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void) type; (void) ne; abort(); }
const char * ggml_type_name(enum ggml_type type) { (void) type; return "?"; }
size_t ggml_type_size(enum ggml_type type) { (void) type; abort(); }

static void f16_row(const float * x, void * y, int64_t k) {
    ggml_fp16_t * out = y;
    for (int64_t i = 0; i < k; i++) out[i] = GGML_FP32_TO_FP16(x[i]);
}

static void bf16_row(const float * x, void * y, int64_t k) {
    ggml_bf16_t * out = y;
    for (int64_t i = 0; i < k; i++) out[i] = GGML_FP32_TO_BF16(x[i]);
}

struct format {
    const char * name;
    int block;
    int bytes;
    void (*quantize)(const float *, void *, int64_t);
};

static const struct format formats[] = {
    { "F16", 1, 2, f16_row },
    { "BF16", 1, 2, bf16_row },
    { "Q8_0", 32, 34, quantize_row_q8_0_ref },
    { "Q4_0", 32, 18, quantize_row_q4_0_ref },
    { "Q5_0", 32, 22, quantize_row_q5_0_ref },
    { "Q4_K", 256, 144, quantize_row_q4_K_ref },
    { "Q5_K", 256, 176, quantize_row_q5_K_ref },
    { "Q6_K", 256, 210, quantize_row_q6_K_ref },
};

int main(int argc, char ** argv) {
    const struct format * fmt = NULL;
    for (size_t i = 0; argc == 2 && i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(argv[1], formats[i].name) == 0) fmt = &formats[i];
    }
    if (!fmt) {
        fprintf(stderr, "usage: quant-ref <F16|BF16|Q8_0|Q4_0|Q5_0|Q4_K|Q5_K|Q6_K> < records\n");
        return 2;
    }
    uint32_t n;
    while (fread(&n, sizeof(n), 1, stdin) == 1) {
        if (n % fmt->block != 0) {
            fprintf(stderr, "row of %u values is not whole %s blocks of %d\n", n, fmt->name, fmt->block);
            return 1;
        }
        float * x = malloc((size_t) n * sizeof(float) + 1);
        size_t out_bytes = (size_t) n / fmt->block * fmt->bytes;
        void * y = malloc(out_bytes + 1);
        if (!x || !y || fread(x, sizeof(float), n, stdin) != n) {
            fprintf(stderr, "truncated input\n");
            return 1;
        }
        fmt->quantize(x, y, n);
        fwrite(y, 1, out_bytes, stdout);
        free(x);
        free(y);
    }
    return 0;
}
