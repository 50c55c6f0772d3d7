/* tbml: the umbrella header. Include this, link libtbml. */
#ifndef TBML_H
#define TBML_H
#include "tbml/core.h"
#include "tbml/crypto.h"
#include "tbml/seal.h"
#include "tbml/pki.h"
#include "tbml/column.h"
#include "tbml/io.h"
#include "tbml/readers.h"
#include "tbml/show.h"
#include "tbml/app.h"
#include "tbml/sql.h"
#include "tbml/idx.h"
#include "tbml/nn.h"
#include "tbml/lenet.h"
#include "tbml/checkpoint.h"
#endif
