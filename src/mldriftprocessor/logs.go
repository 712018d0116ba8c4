// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Log building: one record when a feature enters or leaves drift (edge-triggered).

package mldriftprocessor // import "github.com/modeltel/mldriftprocessor"

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/modeltel/mldriftprocessor/internal/drift"
	"github.com/modeltel/mldriftprocessor/internal/state"
)

// reasonRules lists the calibrated rules behind a transition, comma-separated in spec
// order: the rules that fired when entering drift, the deciding one when leaving it.
func reasonRules(r drift.Result, drifted bool) string {
	if !drifted {
		return r.Primary.Rule
	}
	rules := make([]string, 0, len(r.Reasons))
	for _, x := range r.Reasons {
		if x.Rule != "" {
			rules = append(rules, x.Rule)
		}
	}
	return strings.Join(rules, ",")
}

func (p *driftProcessor) logTransition(o *output, w state.Window, f drift.Feature, r drift.Result, drifted bool) {
	reason, verb := r.Primary, "left drift"
	if drifted {
		reason, verb = r.Reasons[0], "entered drift"
	}
	against := "its baseline " + w.BaselineID
	if !w.ReferenceSince.IsZero() {
		against = "its first full window (no baseline; frozen at " + w.ReferenceSince.UTC().Format(time.RFC3339) + ")"
		if w.ReferenceStability < f.Thresholds.FeatureAlpha {
			against += fmt.Sprintf(", which was itself drifting (p %.3g between its halves)", w.ReferenceStability)
		}
	}
	body := fmt.Sprintf("feature %s (%s) of model %s version %s %s: %s %.4g vs threshold %.4g over the last %s (%d values) against %s",
		w.Key.Feature, w.Key.Role, w.Key.Model, w.Key.Version, verb, reason.Method, reason.Score, reason.Threshold,
		p.cfg.Window, countInt(f.Production.Total()), against)
	a := p.driftRecord(o, w.Key, drifted, body)
	a.PutStr(attrMethod, reason.Method)
	a.PutDouble(attrScore, reason.Score)
	a.PutDouble(attrThreshold, reason.Threshold)
	a.PutDouble(attrWindow, p.cfg.Window.Seconds())
	a.PutInt(attrSampleCount, countInt(f.Production.Total()))
	if rules := reasonRules(r, drifted); rules != "" {
		a.PutStr(attrReason, rules)
	}
}

// driftRecord appends one edge-triggered drift record (ml.drift.started, WARN, when drifted;
// ml.drift.ended, INFO, otherwise) for key, counts the transition, writes body to the
// collector's own log and returns the record's attributes for the caller to complete.
func (p *driftProcessor) driftRecord(o *output, key state.FeatureKey, drifted bool, body string) pcommon.Map {
	severity, text, event, verdict := plog.SeverityNumberInfo, "INFO", eventDriftEnded, "no_drift"
	if drifted {
		severity, text, event, verdict = plog.SeverityNumberWarn, "WARN", eventDriftStarted, "drift"
	}
	p.own.transitions.Add(context.Background(), 1, metric.WithAttributes(attribute.String("state", verdict)))
	lr := o.logs.AppendEmpty()
	lr.SetTimestamp(o.now)
	lr.SetObservedTimestamp(o.now)
	lr.SetSeverityNumber(severity)
	lr.SetSeverityText(text)
	lr.SetEventName(event)
	lr.Body().SetStr(body)
	if drifted {
		p.logger.Warn(body)
	} else {
		p.logger.Info(body)
	}
	a := lr.Attributes()
	featureAttrs(a, key)
	return a
}
