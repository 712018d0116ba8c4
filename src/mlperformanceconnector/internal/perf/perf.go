// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

// Package perf holds the additive performance aggregates of joined prediction/outcome
// rows and the figures derived from them (docs/performance-math.md). Every field of Agg
// is a count or a sum, so aggregates of several collector instances, of several window
// slots, or of several segments add up to the aggregate of their union.
package perf // import "github.com/modeltel/mlperformanceconnector/internal/perf"

import (
	"math"
	"sort"
)

// LogLossEpsilon clips probabilities to [eps, 1-eps] before the log, as scikit-learn's
// log_loss does for float64 inputs (numpy's float64 machine epsilon).
const LogLossEpsilon = 2.220446049250313e-16

// Bins is the score histogram's binning: Count bins uniform in logit(score) over
// [-Limit, Limit], plus one bin below and one above. Logit spacing keeps the bins fine
// where calibrated classifiers put most of their scores (near 0 and 1).
type Bins struct {
	Count int
	Limit float64
}

// DefaultBins are 200 bins over logit [-10, 10] (bin width 0.1 in logit).
var DefaultBins = Bins{Count: 200, Limit: 10}

// Size is the number of histogram slots (Count + 2).
func (b Bins) Size() int { return b.Count + 2 }

// Index returns the slot of score s: 0 below the grid, Count+1 above it.
func (b Bins) Index(s float64) int {
	if !(s > 0) {
		return 0
	}
	if s >= 1 {
		return b.Count + 1
	}
	l := math.Log(s / (1 - s))
	if l < -b.Limit {
		return 0
	}
	i := int(math.Floor((l+b.Limit)/(2*b.Limit)*float64(b.Count))) + 1
	if i > b.Count+1 {
		i = b.Count + 1
	}
	return i
}

// Bounds returns the Count+1 score bounds between slots (the OTLP explicit bounds).
func (b Bins) Bounds() []float64 {
	out := make([]float64, b.Count+1)
	for i := range out {
		l := -b.Limit + 2*b.Limit*float64(i)/float64(b.Count)
		out[i] = 1 / (1 + math.Exp(-l))
	}
	return out
}

// Agg is the additive aggregate of joined rows of one model, version and segment.
type Agg struct {
	// Rows joined (classification and regression).
	N uint64
	// Confusion counts rows by actual class (high 16 bits) and predicted class (low 16).
	Confusion map[uint32]uint64
	// Scored rows carry a positive-class score; Pos/Neg are their score histograms by
	// actual class (positive, any other).
	Scored uint64
	Pos    []uint64
	Neg    []uint64
	// LogLoss and Brier are the sums over scored rows; ScoreSum the sum of the scores in each
	// histogram slot (with Pos and Neg: the reliability curve and calibration error).
	LogLoss  float64
	Brier    float64
	ScoreSum []float64
	// Probed rows carry every class's probability instead of one score (multiclass); their
	// log loss and Brier terms are in LogLoss and Brier too (AddProbabilities).
	Probed uint64
	// Regression sums over rows with a numeric prediction and actual.
	Reg    uint64
	AbsErr float64
	SqErr  float64
	Err    float64
	Y      float64
	Y2     float64
	// APE is the sum of |predicted - actual| / max(|actual|, eps) (scikit-learn's MAPE).
	APE float64
	// Residuals counts predicted - actual over ResidualBounds (len(ResidualBounds)+1 buckets).
	Residuals []uint64
	// Estimated performance (confidence-based, before labels): over every scored
	// prediction, whether or not its outcome came, with p its calibrated probability of the
	// positive class: the expected confusion counts and the score histograms weighted by p
	// and 1-p (docs/outcomes.md, "Before labels arrive").
	EstN               uint64
	ETP, EFP, EFN, ETN float64
	EPos, ENeg         []float64
}

// NewAgg returns an empty aggregate with histograms of bins.Size() slots.
func NewAgg(bins Bins) *Agg {
	return &Agg{Confusion: map[uint32]uint64{}, Pos: make([]uint64, bins.Size()), Neg: make([]uint64, bins.Size()),
		EPos: make([]float64, bins.Size()), ENeg: make([]float64, bins.Size()), ScoreSum: make([]float64, bins.Size())}
}

// AddEstimate adds one scored prediction to the estimated figures: score is the model's
// score (for the histogram slot), p the calibrated probability that the row is positive,
// predictedPositive whether the model predicted the positive class.
func (a *Agg) AddEstimate(bins Bins, score, p float64, predictedPositive bool) {
	if math.IsNaN(p) {
		return
	}
	p = math.Min(math.Max(p, 0), 1)
	a.EstN++
	if predictedPositive {
		a.ETP += p
		a.EFP += 1 - p
	} else {
		a.EFN += p
		a.ETN += 1 - p
	}
	if len(a.EPos) == 0 { // an aggregate restored from before estimates existed
		a.EPos, a.ENeg = make([]float64, bins.Size()), make([]float64, bins.Size())
	}
	i := bins.Index(score)
	a.EPos[i] += p
	a.ENeg[i] += 1 - p
}

// AddClass adds one classified row.
func (a *Agg) AddClass(actual, predicted uint16) {
	a.N++
	a.Confusion[uint32(actual)<<16|uint32(predicted)]++
}

// AddScore adds the positive-class score of a classified row whose actual class is
// (or is not) the positive class.
func (a *Agg) AddScore(bins Bins, score float64, positive bool) {
	a.Scored++
	p := math.Min(math.Max(score, LogLossEpsilon), 1-LogLossEpsilon)
	y := 0.0
	i := bins.Index(score)
	if len(a.ScoreSum) == 0 { // an aggregate restored from before score sums existed
		a.ScoreSum = make([]float64, bins.Size())
	}
	a.ScoreSum[i] += score
	if positive {
		y = 1
		a.Pos[i]++
		a.LogLoss -= math.Log(p)
	} else {
		a.Neg[i]++
		a.LogLoss -= math.Log(1 - p)
	}
	a.Brier += (score - y) * (score - y)
}

// AddProbabilities adds the log loss and Brier terms of a classified row with a probability
// per class (probs, one per column) whose actual class is column actual (-1: a class that
// has no column, i.e. predicted with probability 0), by scikit-learn's rules: log_loss clips
// the actual class's probability to [eps, 1-eps]; brier_score_loss sums (p - y)^2 over the
// columns, halved for fewer than three columns (its scale_by_half="auto").
func (a *Agg) AddProbabilities(probs []float64, actual int) {
	a.Probed++
	p := 0.0
	if actual >= 0 && actual < len(probs) {
		p = probs[actual]
	}
	a.LogLoss -= math.Log(math.Min(math.Max(p, LogLossEpsilon), 1-LogLossEpsilon))
	var sq float64
	for j, q := range probs {
		if j == actual {
			q--
		}
		sq += q * q
	}
	if actual < 0 || actual >= len(probs) {
		sq++ // the actual class's own (0 - 1)^2
	}
	if len(probs) < 3 {
		sq /= 2
	}
	a.Brier += sq
}

// ValidProbabilities reports whether every probability is in [0, 1] (scikit-learn rejects
// others).
func ValidProbabilities(probs []float64) bool {
	for _, q := range probs {
		if !(q >= 0 && q <= 1) {
			return false
		}
	}
	return true
}

// AddValue adds one regression row.
func (a *Agg) AddValue(predicted, actual float64) {
	a.N++
	a.Reg++
	e := predicted - actual
	a.AbsErr += math.Abs(e)
	a.SqErr += e * e
	a.Err += e
	a.Y += actual
	a.Y2 += actual * actual
	a.APE += math.Abs(e) / math.Max(math.Abs(actual), LogLossEpsilon)
	if len(a.Residuals) == 0 { // new, or restored from before residuals existed
		a.Residuals = make([]uint64, len(ResidualBounds)+1)
	}
	a.Residuals[ResidualBucket(e)]++
}

// ResidualBounds are the residual histogram's bounds: 0 and ±1, 2, 5 x 10^k for k in
// -3..5 and ±10^6 (57 bounds), so one histogram fits targets of any scale to a factor of 2.5.
var ResidualBounds = func() []float64 {
	var pos []float64
	for k := -3; k <= 5; k++ {
		for _, m := range []float64{1, 2, 5} {
			pos = append(pos, m*math.Pow(10, float64(k)))
		}
	}
	pos = append(pos, 1e6)
	out := make([]float64, 0, 2*len(pos)+1)
	for i := len(pos) - 1; i >= 0; i-- {
		out = append(out, -pos[i])
	}
	out = append(out, 0)
	return append(out, pos...)
}()

// ResidualBucket is the bucket of residual e: i with ResidualBounds[i-1] < e <= ResidualBounds[i]
// (OTLP explicit-bucket semantics); NaN in the last.
func ResidualBucket(e float64) int {
	if math.IsNaN(e) {
		return len(ResidualBounds)
	}
	return sort.SearchFloat64s(ResidualBounds, e)
}

// Merge adds o into a.
func (a *Agg) Merge(o *Agg) {
	a.N += o.N
	for k, v := range o.Confusion {
		a.Confusion[k] += v
	}
	a.Scored += o.Scored
	for i := range o.Pos {
		if i < len(a.Pos) {
			a.Pos[i] += o.Pos[i]
			a.Neg[i] += o.Neg[i]
		}
	}
	a.LogLoss += o.LogLoss
	a.Brier += o.Brier
	a.Probed += o.Probed
	a.Reg += o.Reg
	a.AbsErr += o.AbsErr
	a.SqErr += o.SqErr
	a.Err += o.Err
	a.Y += o.Y
	a.Y2 += o.Y2
	a.APE += o.APE
	if len(o.Residuals) > 0 {
		if len(a.Residuals) == 0 {
			a.Residuals = make([]uint64, len(o.Residuals))
		}
		for i := range o.Residuals {
			a.Residuals[i] += o.Residuals[i]
		}
	}
	for i := range o.ScoreSum {
		if i < len(a.ScoreSum) {
			a.ScoreSum[i] += o.ScoreSum[i]
		}
	}
	a.EstN += o.EstN
	a.ETP, a.EFP, a.EFN, a.ETN = a.ETP+o.ETP, a.EFP+o.EFP, a.EFN+o.EFN, a.ETN+o.ETN
	for i := range o.EPos {
		if i < len(a.EPos) {
			a.EPos[i] += o.EPos[i]
			a.ENeg[i] += o.ENeg[i]
		}
	}
}

// Estimate is the confidence-based estimate of a binary classifier's performance.
type Estimate struct {
	Accuracy, F1Macro, ROCAUC float64
}

// Estimated returns the estimated figures (NaN without scored predictions): accuracy and
// macro F1 over the positive and negative class from the expected confusion counts, ROC AUC
// from the probability-weighted score histograms (ties in a slot count half).
func (a *Agg) Estimated() Estimate {
	nan := math.NaN()
	e := Estimate{Accuracy: nan, F1Macro: nan, ROCAUC: nan}
	if a.EstN == 0 {
		return e
	}
	e.Accuracy = (a.ETP + a.ETN) / float64(a.EstN)
	f1 := func(tp, fp, fn float64) float64 {
		if d := 2*tp + fp + fn; d > 0 {
			return 2 * tp / d
		}
		return 0
	}
	e.F1Macro = (f1(a.ETP, a.EFP, a.EFN) + f1(a.ETN, a.EFN, a.EFP)) / 2
	var p, n, below, wins, ties float64
	for i := range a.EPos {
		p += a.EPos[i]
		n += a.ENeg[i]
	}
	if p > 0 && n > 0 {
		for i := range a.EPos {
			wins += a.EPos[i] * below
			ties += a.EPos[i] * a.ENeg[i]
			below += a.ENeg[i]
		}
		e.ROCAUC = (wins + ties/2) / (p * n)
	}
	return e
}

// Calibration maps a model's score to the probability that the row is positive, piecewise
// linearly between points (sorted by score); empty is the identity (calibrated scores).
type Calibration struct {
	Scores, Probabilities []float64
}

// Apply returns the calibrated probability of score s.
func (c Calibration) Apply(s float64) float64 {
	n := len(c.Scores)
	if n == 0 {
		return s
	}
	i := sort.SearchFloat64s(c.Scores, s)
	switch {
	case i == 0:
		return c.Probabilities[0]
	case i == n:
		return c.Probabilities[n-1]
	}
	x0, x1, y0, y1 := c.Scores[i-1], c.Scores[i], c.Probabilities[i-1], c.Probabilities[i]
	if x1 == x0 {
		return y1
	}
	return y0 + (y1-y0)*(s-x0)/(x1-x0)
}

// ClassScore is precision, recall and F1 of one class.
type ClassScore struct {
	Class                 uint16
	Precision, Recall, F1 float64
	Support               uint64
}

// Figures are the performance figures of an aggregate; a figure that is not defined
// (no rows of that kind) is NaN.
type Figures struct {
	Accuracy float64
	Classes  []ClassScore
	Macro    ClassScore
	ROCAUC   float64
	AUCError float64 // upper bound of |histogram AUC - exact AUC|
	// PRAUC is the average precision (scikit-learn's average_precision_score) of the score
	// histograms, a slot's scores taken as tied; PRError bounds |PRAUC - exact AP|.
	PRAUC, PRError float64
	LogLoss        float64
	Brier          float64
	// CalibrationError is the expected calibration error over the score histogram's slots:
	// sum over slots of |sum of scores - positives| / scored rows.
	CalibrationError float64
	MAE, RMSE, MAPE  float64
	Bias, R2         float64
}

// Compute derives the figures. Per-class precision/recall/F1 follow scikit-learn's
// classification_report with zero_division=0, over the classes seen as actual or
// predicted; macro is their unweighted mean.
func (a *Agg) Compute() Figures {
	nan := math.NaN()
	f := Figures{Accuracy: nan, ROCAUC: nan, AUCError: nan, PRAUC: nan, PRError: nan, LogLoss: nan, Brier: nan, CalibrationError: nan,
		MAE: nan, RMSE: nan, MAPE: nan, Bias: nan, R2: nan}
	f.Macro = ClassScore{Precision: nan, Recall: nan, F1: nan}
	cls := a.N - a.Reg
	if cls > 0 {
		actual, predicted := map[uint16]uint64{}, map[uint16]uint64{}
		diag := map[uint16]uint64{}
		for k, v := range a.Confusion {
			y, p := uint16(k>>16), uint16(k)
			actual[y] += v
			predicted[p] += v
			if y == p {
				diag[y] += v
			}
		}
		var correct uint64
		for _, v := range diag {
			correct += v
		}
		f.Accuracy = float64(correct) / float64(cls)
		seen := map[uint16]bool{}
		for c := range actual {
			seen[c] = true
		}
		for c := range predicted {
			seen[c] = true
		}
		classes := make([]uint16, 0, len(seen))
		for c := range seen {
			classes = append(classes, c)
		}
		sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
		var mp, mr, mf float64
		for _, c := range classes {
			s := ClassScore{Class: c, Support: actual[c]}
			if predicted[c] > 0 {
				s.Precision = float64(diag[c]) / float64(predicted[c])
			}
			if actual[c] > 0 {
				s.Recall = float64(diag[c]) / float64(actual[c])
			}
			if d := 2*diag[c] + (predicted[c] - diag[c]) + (actual[c] - diag[c]); d > 0 {
				s.F1 = float64(2*diag[c]) / float64(d)
			}
			mp, mr, mf = mp+s.Precision, mr+s.Recall, mf+s.F1
			f.Classes = append(f.Classes, s)
		}
		k := float64(len(classes))
		f.Macro = ClassScore{Precision: mp / k, Recall: mr / k, F1: mf / k, Support: cls}
	}
	if n := a.Scored + a.Probed; n > 0 {
		f.LogLoss = a.LogLoss / float64(n)
		f.Brier = a.Brier / float64(n)
	}
	if a.Scored > 0 {
		f.ROCAUC, f.AUCError = AUC(a.Pos, a.Neg)
		f.PRAUC, f.PRError = AveragePrecision(a.Pos, a.Neg)
		if len(a.ScoreSum) == len(a.Pos) {
			var gap float64
			for i := range a.Pos {
				gap += math.Abs(a.ScoreSum[i] - float64(a.Pos[i]))
			}
			f.CalibrationError = gap / float64(a.Scored)
		}
	}
	if a.Reg > 0 {
		n := float64(a.Reg)
		f.MAE = a.AbsErr / n
		f.RMSE = math.Sqrt(a.SqErr / n)
		f.Bias = a.Err / n
		f.MAPE = a.APE / n
		if sst := a.Y2 - a.Y*a.Y/n; sst > 0 {
			f.R2 = 1 - a.SqErr/sst
		}
	}
	return f
}

// AUC is the ROC AUC of two score histograms (positives, negatives), counting pairs in
// the same slot as ties (half a win), and the largest error that can cause against the
// AUC of the exact scores: half the share of positive-negative pairs that share a slot.
// NaN when either class is empty.
func AUC(pos, neg []uint64) (auc, bound float64) {
	var p, n float64
	for i := range pos {
		p += float64(pos[i])
		n += float64(neg[i])
	}
	if p == 0 || n == 0 {
		return math.NaN(), math.NaN()
	}
	var below, wins, ties float64
	for i := range pos {
		wins += float64(pos[i]) * below
		ties += float64(pos[i]) * float64(neg[i])
		below += float64(neg[i])
	}
	return (wins + ties/2) / (p * n), ties / 2 / (p * n)
}

// AveragePrecision is the area under the precision-recall curve as scikit-learn's
// average_precision_score computes it (sum over thresholds of the recall step times the
// precision there), with the histogram's slots as the thresholds: the scores of one slot count
// as tied. The bound is the largest error that can cause against the AP of the exact scores:
// within a slot the exact order is unknown, and the exact AP lies between the orders that put
// the slot's positives all first and all last. NaN without positives.
func AveragePrecision(pos, neg []uint64) (ap, bound float64) {
	var total float64
	for _, c := range pos {
		total += float64(c)
	}
	if total == 0 || len(pos) != len(neg) {
		return math.NaN(), math.NaN()
	}
	var tp, fp, best, worst float64
	for i := len(pos) - 1; i >= 0; i-- {
		p, n := float64(pos[i]), float64(neg[i])
		if p > 0 {
			ap += p * (tp + p) / (tp + fp + p + n)
			best += precisionSum(tp, tp+fp, p)
			worst += precisionSum(tp, tp+fp+n, p)
		}
		tp, fp = tp+p, fp+n
	}
	ap, best, worst = ap/total, best/total, worst/total
	return ap, math.Max(best-ap, ap-worst)
}

// precisionSum is the sum over k = 1..p of (a+k)/(c+k): the precisions at p positives ranked
// one after the other after a positives among c rows.
func precisionSum(a, c, p float64) float64 {
	return p - (c-a)*(harmonic(c+p)-harmonic(c))
}

// harmonic is the n-th harmonic number (n a whole number), asymptotically beyond 64.
func harmonic(n float64) float64 {
	if n < 64 {
		h := 0.0
		for k := 1.0; k <= n; k++ {
			h += 1 / k
		}
		return h
	}
	const euler = 0.5772156649015329
	return math.Log(n) + euler + 1/(2*n) - 1/(12*n*n) + 1/(120*n*n*n*n)
}

// Wilson returns the Wilson score interval of a proportion k/n at normal quantile z.
func Wilson(k, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p := k / n
	d := 1 + z*z/n
	c := (p + z*z/(2*n)) / d
	h := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / d
	return math.Max(0, c-h), math.Min(1, c+h)
}

// MeanInterval returns mean ± z·sd/√n of values whose sum and sum of squares are given.
func MeanInterval(sum, sumSq, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return math.Inf(-1), math.Inf(1)
	}
	m := sum / n
	v := math.Max(0, sumSq/n-m*m)
	if n > 1 {
		v *= n / (n - 1)
	}
	h := z * math.Sqrt(v/n)
	return m - h, m + h
}
