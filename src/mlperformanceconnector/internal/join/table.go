// Copyright The modeltel Authors
// SPDX-License-Identifier: Apache-2.0

package join // import "github.com/modeltel/mlperformanceconnector/internal/join"

// Other is the label every class, version or segment beyond a table's cap counts under.
const Other = "__other__"

// Table interns the labels of one kind (classes, versions, segments) of a model as
// small indexes. Index 0 is the empty label (no version, no segment).
type Table struct {
	Names []string
	max   int
	index map[string]uint16
	// Overflow counts labels that were counted under Other because the table was full.
	Overflow uint64
}

// NewTable returns a table that holds at most max labels besides "" and Other.
func NewTable(max int) *Table {
	return &Table{Names: []string{""}, max: max, index: map[string]uint16{"": 0}}
}

// Intern returns the index of name, adding it when there is room; a name that finds no
// room gets the index of Other and overflow true.
func (t *Table) Intern(name string) (idx uint16, overflow bool) {
	if i, ok := t.index[name]; ok {
		return i, false
	}
	if len(t.Names) > t.max {
		t.Overflow++
		name, overflow = Other, true
		if i, ok := t.index[name]; ok {
			return i, true
		}
	}
	i := uint16(len(t.Names))
	t.Names = append(t.Names, name)
	t.index[name] = i
	return i, overflow
}

// Name returns the label of index i.
func (t *Table) Name(i uint16) string {
	if int(i) < len(t.Names) {
		return t.Names[i]
	}
	return ""
}

func (t *Table) restore(names []string) {
	t.Names = append([]string(nil), names...)
	t.index = make(map[string]uint16, len(names))
	for i, n := range names {
		t.index[n] = uint16(i)
	}
}
