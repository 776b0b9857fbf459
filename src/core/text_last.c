/* text_last.c - the last object of liboak: see text_first.c. */
void oak__text_last(void);
__attribute__((used, noinline)) void oak__text_last(void) {}
