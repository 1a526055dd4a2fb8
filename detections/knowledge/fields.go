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
