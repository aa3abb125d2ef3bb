/** @file
 * nde/nde.h — everything. Each module has its own header; include this one for all. */
#ifndef NDE_H
#define NDE_H

#include "nde/version.h"
#include "nde/core.h"
#include "nde/params.h"
#include "nde/field.h"
#include "nde/nn.h"
#include "nde/ode.h"
#include "nde/sde.h"
#include "nde/adjoint.h"
#include "nde/reg.h"
#include "nde/idx.h"
#include "nde/optim.h"
#include "nde/schedule.h"
#include "nde/safetensors.h"
#include "nde/checkpoint.h"
#include "nde/mgno.h"
#include "nde/io.h"
#include "nde/operators.h"
#include "nde/pde.h"
#include "nde/relax.h"
#include "nde/model.h"
#include "nde/constraint.h"
#include "nde/trainer.h"
#include "nde/stagger.h"

#endif
