/* scalerdoc.h - `extmetrics scalers`: option tables as Markdown. */
#ifndef EM_SCALERDOC_H
#define EM_SCALERDOC_H

struct em_scaler;

void em_scalerdoc_print(const struct em_scaler *sc);
int em_cmd_scalers(int argc, char **argv);

#endif
