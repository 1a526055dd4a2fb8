package knowledge

import "github.com/hecrisk/hecrisk/detections/spl"

// fieldSet collects the fields found by the extraction phase (EXTRACT, REPORT, KV_MODE) of one
// event, in the order found. Events carry a few dozen fields at most, so a slice with linear
// lookup beats a map and allocates less.
type fieldSet struct {
	f []field
	// evals is scratch space for the EVAL results of one event, kept to avoid an allocation
	// per event.
	evals []spl.Value
}

type field struct {
	name string
	vals []string
}

func (s *fieldSet) reset() { s.f = s.f[:0] }

func (s *fieldSet) index(name string) int {
	for i := range s.f {
		if s.f[i].name == name {
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

// add appends value to name, creating the field when needed.
func (s *fieldSet) add(name, value string) {
	if i := s.index(name); i >= 0 {
		s.f[i].vals = append(s.f[i].vals, value)
		return
	}
	s.f = append(s.f, field{name: name, vals: []string{value}})
}

// addNew sets name only when it does not exist yet (MV_ADD = false).
func (s *fieldSet) addNew(name, value string) {
	if s.index(name) >= 0 {
		return
	}
	s.f = append(s.f, field{name: name, vals: []string{value}})
}
