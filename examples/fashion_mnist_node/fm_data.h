/* Fashion-MNIST for the neural-ODE classifier: images as doubles in [0, 1], labels. */
#ifndef FM_DATA_H
#define FM_DATA_H

#include <stdint.h>

#include "nde/nde.h"

#define FM_PIXELS 784
#define FM_CLASSES 10

typedef struct fm_split {
    size_t count;
    double *images;  /* (count, 784), pixel / 255 */
    uint8_t *labels; /* (count) in 0..9 */
} fm_split;

/* Load the first max_count (0: all) items of split "train" or "t10k" from dir (the
 * Debian package's layout). NDE_ERR_MISSING with an install hint if the files are
 * absent; NDE_ERR_FORMAT if images and labels disagree. */
nde_status fm_load(const char *dir, const char *split, size_t max_count, fm_split *out);
void fm_free(fm_split *s);

#endif
