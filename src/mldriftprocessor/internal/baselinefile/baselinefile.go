// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package baselinefile reads a modeltel baseline file (docs/baseline-format.md,
// schema_version 1 or 2), the same JSON `modeltel.Baseline.save` writes, so that a collector
// can be given baselines as files instead of (or before) receiving them in-band.
package baselinefile // import "github.com/modeltel/mldriftprocessor/internal/baselinefile"

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/modeltel/mlcommon/baseline"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// Feature is one feature's reference distribution.
type Feature struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"` // numeric or categorical
	Edges      []float64 `json:"edges"`
	Categories []string  `json:"categories"`
	Counts     []float64 `json:"counts"`
	Min        *float64  `json:"min"`
	Max        *float64  `json:"max"`
	// NullCount is the training data's null values (absent in hand-written files).
	NullCount *float64 `json:"null_count"`
	// Tail splits a categorical feature's __other__ count into hashed tail buckets
	// (absent in older files).
	Tail *Tail `json:"tail"`
}

// Tail is the labels beyond a feature's top categories, counted in buckets by their keyed
// hash (the SDK's MODELTEL_HASH_KEY, identified by KeyID).
type Tail struct {
	KeyID  string    `json:"key_id"`
	Counts []float64 `json:"counts"`
}

// File is a parsed baseline.
type File struct {
	baseline.Header
	Features    []Feature `json:"features"`
	Predictions []Feature `json:"predictions"`
	// Projection (schema_version 2) holds the multivariate projections' reference
	// histograms; Parse appends them to Features (they are input features named
	// __projection_<k>__).
	Projection *struct {
		Features []Feature `json:"features"`
	} `json:"projection"`
}

// Other is the catch-all category, last in a categorical feature's counts.
const Other = state.Other

// Parse reads and checks a baseline file; every error names what is wrong.
func Parse(data []byte) (*File, error) {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("baseline: not valid JSON: %w", err)
	}
	if err := f.Check(); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if f.ID == "" {
		return nil, errors.New("baseline: id is missing")
	}
	if f.Version == "" {
		f.Version = "unknown"
	}
	if f.Projection != nil {
		for _, ft := range f.Projection.Features {
			if ft.Kind != "numeric" {
				return nil, fmt.Errorf("baseline %s: projection %q must be numeric", f.ID, ft.Name)
			}
		}
		f.Features = append(f.Features, f.Projection.Features...)
	}
	for _, group := range [][]Feature{f.Features, f.Predictions} {
		for i := range group {
			if err := group[i].check(); err != nil {
				return nil, fmt.Errorf("baseline %s: feature %q: %w", f.ID, group[i].Name, err)
			}
		}
	}
	return &f, nil
}

func (ft *Feature) check() error {
	if ft.Name == "" {
		return errors.New("name is missing")
	}
	for _, c := range ft.Counts {
		if !(c >= 0) || math.IsInf(c, 0) {
			return fmt.Errorf("count %v is not a non-negative number", c)
		}
	}
	switch ft.Kind {
	case "numeric":
		if len(ft.Counts) != len(ft.Edges)+1 {
			return fmt.Errorf("%d edges need %d counts, got %d", len(ft.Edges), len(ft.Edges)+1, len(ft.Counts))
		}
		for i, e := range ft.Edges {
			if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= ft.Edges[i-1]) {
				return errors.New("edges must be finite and strictly increasing")
			}
		}
	case "categorical":
		if len(ft.Counts) != len(ft.Categories)+1 {
			return fmt.Errorf("%d categories need %d counts (the last for %s), got %d", len(ft.Categories), len(ft.Categories)+1, Other, len(ft.Counts))
		}
		seen := map[string]bool{}
		for _, c := range ft.Categories {
			if _, tail := state.TailIndex(c); c == Other || seen[c] || (tail && ft.Tail != nil) {
				return fmt.Errorf("category %q is repeated or reserved", c)
			}
			seen[c] = true
		}
		if ft.Tail != nil {
			total := 0.0
			for _, c := range ft.Tail.Counts {
				if !(c >= 0) || math.IsInf(c, 0) {
					return fmt.Errorf("tail count %v is not a non-negative number", c)
				}
				total += c
			}
			if len(ft.Tail.Counts) == 0 || total != ft.Counts[len(ft.Counts)-1] {
				return fmt.Errorf("tail counts must add up to the %s count %v", Other, ft.Counts[len(ft.Counts)-1])
			}
		}
	default:
		return fmt.Errorf("kind %q is neither numeric nor categorical", ft.Kind)
	}
	return nil
}

// Cats returns a categorical feature's counts by label, __other__ included; with a tail,
// its buckets (state.TailLabel) hold what __other__ counts and __other__ is 0.
func (ft *Feature) Cats() map[string]float64 {
	out := make(map[string]float64, len(ft.Categories)+1)
	for i, c := range ft.Categories {
		out[c] = ft.Counts[i]
	}
	out[Other] = ft.Counts[len(ft.Counts)-1]
	if ft.Tail != nil {
		for j, c := range ft.Tail.Counts {
			out[state.TailLabel(j)] = c
		}
		out[Other] = 0
	}
	return out
}
