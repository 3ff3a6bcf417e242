/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `synscope demo [SCENARIO]`: the bundled client/server pair, traced and annotated. */
#ifndef SYNSCOPE_DEMO_H
#define SYNSCOPE_DEMO_H

/* argv[0] is "demo". Returns the exit status. */
int demo_main(int argc, char **argv);

#endif
