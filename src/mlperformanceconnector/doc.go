// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package mlperformanceconnector joins the joinable predictions that the modeltel SDK
// sends (log records ml.outcome.predicted) with the ground truth sent later, from any
// process (log records ml.outcome.observed), by join key, and turns the joined rows into
// model performance metrics per model, version and segment: additive counts, sums and
// score histograms (cumulative, so a backend sums several instances) and windowed
// gauges of accuracy, precision/recall/F1, ROC AUC, log loss, Brier, MAE, RMSE, bias and
// R^2 over the prediction time of the last window. It counts what never joined
// (expired, unknown_key, duplicate) and logs ml.performance.degraded / recovered when a
// window's performance leaves or re-enters its reference's interval (edge-triggered).
//
// It is a connector, not a processor: it reads logs and writes metrics (and events),
// the collector's shape for a component that turns one signal into another (like the
// count and spanmetrics connectors). Pending predictions live in a storage extension
// (file_storage) when one is configured, so a restart loses none.
package mlperformanceconnector // import "github.com/modeltel/mlperformanceconnector"
