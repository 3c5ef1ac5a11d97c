package ruletest

import (
	"context"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStorage keeps a unit test's series in memory for Prometheus's engine and
// rule evaluation. promtool opens a TSDB in a temporary directory per test;
// its creation and removal (~0.5 ms, serialised on the file system) and its
// server-sized head made every test cost ~15 ms, and a fleet with a test in
// every app missed its check budget. A test holds a few series of tens of
// samples, which a slice per series serves.
type memStorage struct {
	mu     sync.Mutex
	series []*memSeries
}

type memSeries struct {
	labels  labels.Labels
	samples []chunks.Sample
}

// Querier returns every series matching the selectors, whole: the engine
// keeps only the samples its range needs.
func (s *memStorage) Querier(int64, int64) (storage.Querier, error) {
	return &storage.MockQuerier{SelectMockFunction: s.selectSeries}, nil
}

func (s *memStorage) selectSeries(_ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Series
	for _, x := range s.series {
		if matchAll(ms, x.labels) {
			out = append(out, storage.NewListSeries(x.labels, slices.Clone(x.samples)))
		}
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &seriesSet{series: out, i: -1}
}

type seriesSet struct {
	series []storage.Series
	i      int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

func matchAll(ms []*labels.Matcher, l labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

// find returns the series with exactly these labels, or nil; s.mu is held.
func (s *memStorage) find(l labels.Labels) *memSeries {
	for _, x := range s.series {
		if labels.Equal(x.labels, l) {
			return x
		}
	}
	return nil
}

func (s *memStorage) lastTime(l labels.Labels) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if x := s.find(l); x != nil && len(x.samples) > 0 {
		return x.samples[len(x.samples)-1].T()
	}
	return math.MinInt64
}

// AppenderV2 buffers samples until Commit, like the TSDB's appender; rule
// evaluation writes ALERTS and ALERTS_FOR_STATE through it, so rules that
// read them see them.
func (s *memStorage) AppenderV2(context.Context) storage.AppenderV2 {
	return &memAppender{storage: s}
}

type pending struct {
	labels labels.Labels
	sample memSample
}

type memAppender struct {
	storage *memStorage
	pending []pending
}

// Append refuses, like the TSDB, a sample that is not newer than its series'
// last one (a series given twice in a test's input).
func (a *memAppender) Append(_ storage.SeriesRef, l labels.Labels, _, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, _ storage.AppendV2Options) (storage.SeriesRef, error) {
	last := a.storage.lastTime(l)
	for _, p := range a.pending {
		if labels.Equal(p.labels, l) {
			last = max(last, p.sample.t)
		}
	}
	if t <= last {
		return 0, storage.ErrOutOfOrderSample
	}
	a.pending = append(a.pending, pending{l, memSample{t: t, f: v, h: h, fh: fh}})
	return 0, nil
}

func (a *memAppender) Commit() error {
	s := a.storage
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range a.pending {
		x := s.find(p.labels)
		if x == nil {
			x = &memSeries{labels: p.labels}
			s.series = append(s.series, x)
		}
		x.samples = append(x.samples, p.sample)
	}
	a.pending = nil
	return nil
}

func (a *memAppender) Rollback() error {
	a.pending = nil
	return nil
}

// memSample is one float or histogram sample.
type memSample struct {
	t  int64
	f  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

func (s memSample) T() int64                      { return s.t }
func (s memSample) ST() int64                     { return 0 }
func (s memSample) F() float64                    { return s.f }
func (s memSample) H() *histogram.Histogram       { return s.h }
func (s memSample) FH() *histogram.FloatHistogram { return s.fh }

func (s memSample) Type() chunkenc.ValueType {
	switch {
	case s.h != nil:
		return chunkenc.ValHistogram
	case s.fh != nil:
		return chunkenc.ValFloatHistogram
	default:
		return chunkenc.ValFloat
	}
}

func (s memSample) Copy() chunks.Sample {
	c := s
	if s.h != nil {
		c.h = s.h.Copy()
	}
	if s.fh != nil {
		c.fh = s.fh.Copy()
	}
	return c
}
