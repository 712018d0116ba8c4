// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package drift

import (
	"math"
	"sort"
)

// Rules of the calibrated mode (spec 5), as reported in scores and log records.
const (
	RuleRankSum        = "rank_sum"
	RuleChi2           = "chi2_contingency"
	RuleNullRate       = "null_rate"
	RuleOutOfRange     = "out_of_range"
	RuleUnseenCategory = "unseen_category"
)

// RuleTest is one calibrated rule of one feature: its p-value, Holm-adjusted q-value
// over the model's family, effect size and effect floor (spec 5).
type RuleTest struct {
	Rule   string
	PValue float64
	QValue float64
	Effect float64
	Floor  float64
	Alpha  float64
	Fired  bool
}

// Collapse merges cells until each group expects at least minExpected values on both
// sides (spec 5.1): adjacent buckets left to right when ordered, else cells by pooled
// count descending (ties in index order). An unfilled last group joins the previous one.
func Collapse(reference, production []float64, ordered bool, minExpected float64) (r, p []float64) {
	n, m := sum(reference), sum(production)
	idx := make([]int, 0, len(reference))
	for i := range reference {
		if reference[i]+production[i] > 0 {
			idx = append(idx, i)
		}
	}
	if !ordered {
		sort.SliceStable(idx, func(a, b int) bool {
			return reference[idx[a]]+production[idx[a]] > reference[idx[b]]+production[idx[b]]
		})
	}
	scale := 0.0
	if n+m > 0 {
		scale = math.Min(n, m) / (n + m)
	}
	curR, curP, open := 0.0, 0.0, false
	for _, i := range idx {
		curR += reference[i]
		curP += production[i]
		open = true
		if scale*(curR+curP) >= minExpected {
			r, p = append(r, curR), append(p, curP)
			curR, curP, open = 0, 0, false
		}
	}
	if open {
		if len(r) > 0 {
			r[len(r)-1] += curR
			p[len(p)-1] += curP
		} else {
			r, p = append(r, curR), append(p, curP)
		}
	}
	return r, p
}

// Chi2TwoSample is the Pearson chi-squared test of homogeneity on collapsed cells (5.1);
// it also returns the collapsed counts.
func Chi2TwoSample(reference, production []float64, ordered bool, minExpected float64) (pvalue float64, r, p []float64) {
	r, p = Collapse(reference, production, ordered, minExpected)
	df := len(r) - 1
	if df < 1 {
		return 1, r, p
	}
	n, m := sum(r), sum(p)
	stat := 0.0
	for i := range r {
		t := r[i] + p[i]
		er := n * t / (n + m)
		ep := m * t / (n + m)
		stat += (r[i]-er)*(r[i]-er)/er + (p[i]-ep)*(p[i]-ep)/ep
	}
	return GammaIncc(float64(df)/2, stat/2), r, p
}

// RankSumPValue is the two-sided Mann-Whitney p-value on ordered buckets (5.1b): midranks,
// tie-corrected variance, continuity correction 0.5, normal approximation.
func RankSumPValue(reference, production []float64) float64 {
	n, m := sum(reference), sum(production)
	if n <= 0 || m <= 0 {
		return 1
	}
	total := n + m
	below, rankSum, ties := 0.0, 0.0, 0.0
	for i := range reference {
		t := reference[i] + production[i]
		if t > 0 {
			rankSum += production[i] * (below + (t+1)/2)
			ties += t*t*t - t
			below += t
		}
	}
	u := rankSum - m*(m+1)/2
	v := n * m / 12 * ((total + 1) - ties/(total*(total-1)))
	if v <= 0 {
		return 1
	}
	z := (math.Abs(u-n*m/2) - 0.5) / math.Sqrt(v)
	if z <= 0 {
		return 1
	}
	return math.Min(math.Max(math.Erfc(z/math.Sqrt2), 0), 1)
}

func lchoose(a, b float64) float64 {
	x, _ := math.Lgamma(a + 1)
	y, _ := math.Lgamma(b + 1)
	z, _ := math.Lgamma(a - b + 1)
	return x - y - z
}

// RatePValue is the one-sided exact test that a rate went up, x events of m against y
// of n (5.2): P(X >= x), X hypergeometric (population n+m, x+y events, m draws).
func RatePValue(x, m, y, n float64) float64 {
	t := x + y
	if t <= 0 || m <= 0 || n <= 0 {
		return 1
	}
	lo, hi := math.Max(0, t-n), math.Min(t, m)
	if x <= lo {
		return 1
	}
	total := n + m
	logpmf := func(k float64) float64 { return lchoose(t, k) + lchoose(total-t, m-k) - lchoose(total, m) }
	if x*total > m*t {
		term := math.Exp(logpmf(x))
		acc := term
		for k := x; k < hi; {
			term *= (t - k) * (m - k) / ((k + 1) * (n - t + k + 1))
			k++
			acc += term
			if term < 1e-17*acc {
				break
			}
		}
		return math.Min(math.Max(acc, 0), 1)
	}
	k := x - 1
	term := math.Exp(logpmf(k))
	acc := term
	for k > lo {
		term *= k * (n - t + k) / ((t - k + 1) * (m - k + 1))
		k--
		acc += term
		if term < 1e-17*acc {
			break
		}
	}
	return math.Min(math.Max(1-acc, 0), 1)
}

// OutsidePValue is P(X >= x) for X the production values below the smallest and above
// the largest of n reference values, of m production values, under exchangeability (5.2).
func OutsidePValue(x, m, n float64) float64 {
	if x <= 0 || m <= 0 || n < 2 {
		return 1
	}
	total := n + m
	logDen := lchoose(total, n)
	acc := 0.0
	for k := x; k <= m; k++ {
		term := math.Exp(math.Log(k+1) + lchoose(total-k-2, n-2) - logDen)
		acc += term
		if term < 1e-17*acc {
			break
		}
	}
	return math.Min(math.Max(acc, 0), 1)
}

func clamp01(x float64) float64 { return math.Min(math.Max(x, 0), 1) }

// CohenH is |2 asin(sqrt(p1)) - 2 asin(sqrt(p2))| (5.3).
func CohenH(p1, p2 float64) float64 {
	return math.Abs(2*math.Asin(math.Sqrt(clamp01(p1))) - 2*math.Asin(math.Sqrt(clamp01(p2))))
}

// MaxCohenH is the largest Cohen's h over cells (5.3).
func MaxCohenH(reference, production []float64) float64 {
	r, p := proportions(reference), proportions(production)
	best := 0.0
	for i := range r {
		best = math.Max(best, CohenH(p[i], r[i]))
	}
	return best
}

// EffectFloor is scale * n_eff^-1/4 with n_eff = n*m/(n+m) (5.3).
func EffectFloor(n, m, scale float64) float64 {
	if n <= 0 || m <= 0 {
		return math.Inf(1)
	}
	return scale * math.Pow(n*m/(n+m), -0.25)
}

// Holm returns Holm's step-down adjusted p-values in input order (5.4).
func Holm(pvalues []float64) []float64 {
	n := len(pvalues)
	q := make([]float64, n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return pvalues[order[a]] < pvalues[order[b]] })
	running := 0.0
	for i, idx := range order {
		running = math.Max(running, math.Min(1, pvalues[idx]*float64(n-i)))
		q[idx] = running
	}
	return q
}

// CalibratedTests returns the calibrated rules of one feature with p-values, effects and
// floors (spec 5); QValue, Alpha and Fired are set by Evaluate.
func CalibratedTests(f Feature) []RuleTest {
	ref, prod, t := f.Reference, f.Production, f.Thresholds
	n, m := ref.Total(), prod.Total()
	var tests []RuleTest
	rc, pc := ref.Counts, prod.Counts
	if n > 0 && m > 0 {
		floor := EffectFloor(n, m, t.EffectFloor)
		ordered := !f.Categorical
		if ordered {
			tests = append(tests, RuleTest{Rule: RuleRankSum, PValue: RankSumPValue(rc, pc), Effect: WassersteinNormalized(ref, prod), Floor: floor})
		}
		p, rg, pg := Chi2TwoSample(rc, pc, ordered, t.MinExpected)
		effect := 0.0
		if len(rg) > 1 {
			effect = MaxCohenH(rg, pg)
		}
		tests = append(tests, RuleTest{Rule: RuleChi2, PValue: p, Effect: effect, Floor: floor})
		k := len(rc)
		switch {
		case ordered && f.OutsideKnown:
			if x := f.ProductionOutside; x > 0 {
				tests = append(tests, RuleTest{Rule: RuleOutOfRange, PValue: OutsidePValue(x, m, n), Effect: CohenH(math.Min(x/m, 1), 0), Floor: floor})
			}
		case ordered && k >= 3 && rc[0] == 0 && rc[k-1] == 0:
			if x := pc[0] + pc[k-1]; x > 0 {
				tests = append(tests, RuleTest{Rule: RuleOutOfRange, PValue: OutsidePValue(x, m, n), Effect: CohenH(x/m, 0), Floor: floor})
			}
		case !ordered:
			// labels outside the top categories: the tail buckets and __other__
			x, y := 0.0, 0.0
			for i := max(k-1-f.Tail, 0); i < k; i++ {
				x, y = x+pc[i], y+rc[i]
			}
			if x+y > 0 {
				tests = append(tests, RuleTest{Rule: RuleUnseenCategory, PValue: RatePValue(x, m, y, n), Effect: CohenH(x/m, y/n), Floor: floor})
			}
		}
	}
	x, y := f.ProductionNulls, f.ReferenceNulls
	mm, nn := m+x, n+y
	if !math.IsNaN(y) && x+y > 0 && mm > 0 && nn > 0 {
		tests = append(tests, RuleTest{Rule: RuleNullRate, PValue: RatePValue(x, mm, y, nn), Effect: CohenH(x/mm, y/nn), Floor: EffectFloor(nn, mm, t.EffectFloor)})
	}
	return tests
}

// calibrate runs Holm over every rule of every calibrated feature with a verdict (one
// family per model) and decides those features (spec 5.4).
func calibrate(features []Feature, results []Result) {
	var ps []float64
	type ref struct{ feature, test int }
	var refs []ref
	alpha, featureAlpha := 0.0, 0.0
	nFeatures := 0
	for i, f := range features {
		if !f.Thresholds.Calibrated || results[i].Verdict == VerdictInsufficientData {
			continue
		}
		if nFeatures == 0 {
			alpha, featureAlpha = f.Thresholds.Alpha, f.Thresholds.FeatureAlpha
		}
		nFeatures++
		for j, t := range results[i].Tests {
			ps = append(ps, t.PValue)
			refs = append(refs, ref{i, j})
		}
	}
	if nFeatures == 0 {
		return
	}
	level := math.Min(alpha, featureAlpha*float64(nFeatures))
	for k, q := range Holm(ps) {
		t := &results[refs[k].feature].Tests[refs[k].test]
		t.QValue, t.Alpha = q, level
		t.Fired = q < level && t.Effect >= t.Floor
	}
	for i, f := range features {
		if !f.Thresholds.Calibrated || results[i].Verdict == VerdictInsufficientData {
			continue
		}
		r := &results[i]
		best := -1
		for j, t := range r.Tests {
			r.Scores[t.Rule+"_pvalue"] = t.PValue
			r.Scores[t.Rule+"_qvalue"] = t.QValue
			r.Scores[t.Rule+"_effect"] = t.Effect
			r.Limits[t.Rule+"_qvalue"] = level
			r.Limits[t.Rule+"_effect"] = t.Floor
			if best < 0 || t.QValue < r.Tests[best].QValue {
				best = j
			}
			if t.Fired {
				r.Reasons = append(r.Reasons, Reason{Method: t.Rule + "_qvalue", Score: t.QValue, Threshold: level, Rule: t.Rule})
			}
		}
		if best >= 0 {
			t := r.Tests[best]
			r.Primary = Reason{Method: t.Rule + "_qvalue", Score: t.QValue, Threshold: level, Rule: t.Rule}
		}
		n, m := f.Reference.Total(), f.Production.Total()
		if n > 0 && m > 0 {
			r.Scores["effect_floor"] = EffectFloor(n, m, f.Thresholds.EffectFloor)
		}
		r.Scores["alpha"] = level
		if len(r.Reasons) > 0 {
			r.Verdict = VerdictDrift
		}
	}
}
