package knowledge

import "github.com/hecrisk/hecrisk/detections/spl"

// fieldSet collects the fields found by the extraction phase (EXTRACT, REPORT, KV_MODE) of one
// event, in the order found. Events carry a few dozen fields at most, so a slice with linear
// lookup beats a map and allocates less; past indexFrom fields a map takes over, so that an
// event with thousands of fields (limit = -1) costs linear time, not quadratic.
type fieldSet struct {
	f   []field
	idx map[string]int // name → position in f, once f is longer than indexFrom
	// evals is scratch space for the EVAL results of one event, kept to avoid an allocation
	// per event.
	evals []spl.Value

	// Automatic extraction (KV_MODE, AUTO_KV_JSON) of the current event: fields before
	// explicit come from EXTRACT/REPORT and are left alone; at most kvLimit new fields
	// (negative: no limit). kvField and jsonField are bound once, so that handing them to the
	// scanners allocates nothing per event.
	explicit, created, kvLimit int
	kvField                    func(key, value string)
	jsonField                  func(key []byte, value string)
}

func newFieldSet() *fieldSet {
	s := &fieldSet{f: make([]field, 0, 32)}
	s.kvField = func(key, value string) {
		if s.autoPut(s.index(key), value) {
			s.create(key, value)
		}
	}
	// JSON names live in a reused buffer: a string is made only for a new field.
	s.jsonField = func(key []byte, value string) {
		if s.autoPut(s.indexBytes(key), value) {
			s.create(string(key), value)
		}
	}
	return s
}

// startAuto begins automatic extraction over the fields found so far.
func (s *fieldSet) startAuto(limit int) {
	s.explicit, s.created, s.kvLimit = len(s.f), 0, limit
}

// autoPut adds value to the field at i (-1: none yet) and reports whether a new field may be
// created for it.
func (s *fieldSet) autoPut(i int, value string) bool {
	if i >= 0 {
		if i >= s.explicit {
			s.f[i].vals = append(s.f[i].vals, value)
		}
		return false
	}
	if s.kvLimit >= 0 && s.created >= s.kvLimit {
		return false
	}
	s.created++
	return true
}

const indexFrom = 32

type field struct {
	name string
	vals []string
}

func (s *fieldSet) reset() {
	s.f = s.f[:0]
	if s.idx != nil {
		clear(s.idx)
	}
}

func (s *fieldSet) index(name string) int {
	if len(s.f) > indexFrom {
		if i, ok := s.idx[name]; ok {
			return i
		}
		return -1
	}
	for i := range s.f {
		if s.f[i].name == name {
			return i
		}
	}
	return -1
}

// indexBytes is index for a name held in a buffer; neither form allocates.
func (s *fieldSet) indexBytes(name []byte) int {
	if len(s.f) > indexFrom {
		if i, ok := s.idx[string(name)]; ok {
			return i
		}
		return -1
	}
	for i := range s.f {
		if s.f[i].name == string(name) {
			return i
		}
	}
	return -1
}

func (s *fieldSet) get(name string) ([]string, bool) {
	if i := s.index(name); i >= 0 {
		return s.f[i].vals, true
	}
	return nil, false
}

// create appends a new field; the caller knows name is not in the set.
func (s *fieldSet) create(name, value string) {
	s.f = append(s.f, field{name: name, vals: []string{value}})
	switch {
	case len(s.f) == indexFrom+1:
		if s.idx == nil {
			s.idx = make(map[string]int, 2*indexFrom)
		}
		for i := range s.f {
			s.idx[s.f[i].name] = i
		}
	case len(s.f) > indexFrom+1:
		s.idx[name] = len(s.f) - 1
	}
}

// add appends value to name, creating the field when needed.
func (s *fieldSet) add(name, value string) {
	if i := s.index(name); i >= 0 {
		s.f[i].vals = append(s.f[i].vals, value)
		return
	}
	s.create(name, value)
}

// addNew sets name only when it does not exist yet (MV_ADD = false).
func (s *fieldSet) addNew(name, value string) {
	if s.index(name) >= 0 {
		return
	}
	s.create(name, value)
}
