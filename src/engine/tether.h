/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#define TETHER_INSIDE
#include "tether-schema.h"
#include "tether-record.h"
#include "tether-database.h"
#include "tether-collection.h"
#include "tether-query.h"
#include "tether-live-query.h"
#include "tether-write-hook.h"
#include "tether-uuid.h"
#include "sync/tether-sync.h"
#undef TETHER_INSIDE
