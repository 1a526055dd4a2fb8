package hecclient

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hecrisk/hecrisk/internal/timefmt"
)

// eachLine calls fn for every line of a file ("-" is standard input, read once and kept
// so a second pass can see it).
func (r *replayer) eachLine(file string, fn func(line string) error) error {
	var rd io.Reader
	if file == "-" {
		if r.stdinData == nil {
			b, err := io.ReadAll(os.Stdin)
			if err != nil {
				return fmt.Errorf("read standard input: %w", err)
			}
			r.stdinData = b
		}
		rd = bytes.NewReader(r.stdinData)
	} else {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer f.Close()
		rd = f
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		if err := fn(strings.TrimRight(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("replay: read %s: %w", file, err)
	}
	return nil
}

// newest finds the latest recognized timestamp over all files.
func (r *replayer) newest(inputs []Input) (time.Time, bool, error) {
	var newest time.Time
	found := false
	for _, in := range inputs {
		err := r.eachLine(in.Path, func(line string) error {
			if m, ok := timefmt.RecognizeAt(line, r.loc, r.now); ok && (!found || m.Time.After(newest)) {
				newest, found = m.Time, true
			}
			return nil
		})
		if err != nil {
			return time.Time{}, false, err
		}
	}
	return newest, found, nil
}

// rebase rewrites the line's timestamp text by the replay's shift, keeping its layout.
func (r *replayer) rebase(line string) (string, time.Time, bool) {
	m, ok := timefmt.RecognizeAt(line, r.loc, r.now)
	if !ok {
		return line, time.Time{}, false
	}
	if r.shift == 0 {
		return line, m.Time, true
	}
	t := m.Time.Add(r.shift)
	b := r.lineBuf[:0]
	b = append(b, line[:m.Start]...)
	b = timefmt.AppendStrftime(b, t, m.Layout)
	b = append(b, line[m.End:]...)
	r.lineBuf = b
	return string(b), t, true
}

func (r *replayer) replayFile(ctx context.Context, in Input) error {
	file := in.Path
	r.source, r.sourcetype = firstNonEmpty(in.Source, r.opts.Source), firstNonEmpty(in.Sourcetype, r.opts.Sourcetype)
	if r.source == "" && file != "-" {
		r.source = filepath.Base(file)
	}
	r.prevTime = time.Time{}
	err := r.eachLine(file, func(line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		line, t, ok := r.rebase(line)
		// A full batch is sent just before the next line that has a timestamp. On /raw the
		// collector gives a line without one the time of the previous event of the same
		// request, so a request must not start with such a line (llama.cpp output follows
		// its slog line). A hard cap keeps long stamp-less runs from growing a request.
		if r.pending >= r.batch && (ok || r.pending >= maxBatchFactor*r.batch) {
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
		if ok {
			r.prevTime = t
		}
		return r.add(line)
	})
	if err != nil {
		return err
	}
	// Batches do not span files: metadata such as source is per request on /raw.
	return r.flush(ctx)
}
