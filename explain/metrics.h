// Explanation metrics: how far to trust an explanation. One include for all of them.
//
//   xai_fns.h       ScoreFn / MapFn, the two callables every metric is written against, and their adapters
//                   for cxr models and the explain/cam.h methods
//   faithfulness.h  deletion / insertion AUC (RISE), Average Drop / Increase in Confidence (Grad-CAM++)
//   localization.h  pointing game and energy share against lesion / lung masks; mask loading and matching
//   sanity.h        Spearman rank correlation; cascading randomisation of the model (Adebayo et al.)
//   shortcut.h      evidence outside the lungs in the border band (burned-in markers)
//   xai_report.h    all of the above over a dataset: per-image rows, aggregates, JSON, a readable table
#pragma once
#include "explain/faithfulness.h"
#include "explain/localization.h"
#include "explain/sanity.h"
#include "explain/shortcut.h"
#include "explain/xai_fns.h"
#include "explain/xai_report.h"
