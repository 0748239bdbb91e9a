/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The sync client (docs/sync.md). Included by tether.h. */
#include "tether-hlc.h"
#include "tether-merge.h"
#include "tether-transport.h"
#include "tether-http-transport.h"
#include "tether-ws-transport.h"
#include "tether-faulty-transport.h"
#include "tether-sync-change.h"
#include "tether-conflict.h"
#include "tether-sync-engine.h"
