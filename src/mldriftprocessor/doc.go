// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package mldriftprocessor computes drift and data quality of machine-learning models
// from the feature distributions that the modeltel SDK exports (docs/semantic-conventions.md,
// "Distribution metrics" and "In-band baselines"). It merges every replica's points per
// model, version and feature into a sliding window, compares the window with the model's
// baseline using the math of docs/drift-math.md, and emits ml.drift.* gauges on every emit
// interval plus one log record when a feature enters or leaves drift. Incoming telemetry
// passes through unchanged.
//
// The processor is stateful: every replica of a model must reach the same instance (see
// docs/deployment.md for the agent/gateway topology with the loadbalancing exporter).
package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"
