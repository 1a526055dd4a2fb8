package hecclient

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Dataset is an attack_data dataset description (the YAML next to the logs), e.g.
// ESCU's ollama_server_data.yml.
type Dataset struct {
	Author      string        `yaml:"author"`
	ID          string        `yaml:"id"`
	Date        string        `yaml:"date"`
	Description string        `yaml:"description"`
	Environment string        `yaml:"environment"`
	Datasets    []DatasetFile `yaml:"datasets"`
}

// DatasetFile is one log of a dataset with the metadata to send it with.
type DatasetFile struct {
	Name       string `yaml:"name"`
	Path       string `yaml:"path"`
	Sourcetype string `yaml:"sourcetype"`
	Source     string `yaml:"source"`
}

// LoadDataset reads a dataset YAML and resolves each file. Paths in these files are
// relative to the attack_data repository ("/datasets/ollama/server.log"), so a path is
// looked up as written, then relative to the YAML's directory, then by base name next to
// the YAML (the layout of a downloaded dataset folder).
func LoadDataset(path string) ([]Input, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	var d Dataset
	if err := yaml.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", path, err)
	}
	if len(d.Datasets) == 0 {
		return nil, fmt.Errorf("dataset %s: no datasets listed", path)
	}
	dir := filepath.Dir(path)
	inputs := make([]Input, 0, len(d.Datasets))
	for i, f := range d.Datasets {
		if f.Path == "" {
			return nil, fmt.Errorf("dataset %s: entry %d (%s) has no path", path, i, f.Name)
		}
		candidates := []string{f.Path, filepath.Join(dir, strings.TrimLeft(f.Path, "/")), filepath.Join(dir, filepath.Base(f.Path))}
		found := ""
		for _, c := range candidates {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				found = c
				break
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("dataset %s: %w", path, err)
			}
		}
		if found == "" {
			return nil, fmt.Errorf("dataset %s: file %q not found (tried %s)", path, f.Path, strings.Join(candidates, ", "))
		}
		inputs = append(inputs, Input{Path: found, Sourcetype: f.Sourcetype, Source: f.Source})
	}
	return inputs, nil
}
