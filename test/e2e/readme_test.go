package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The README is executed: shell blocks marked for it run, in order, against a server on free
// loopback ports, so a wrong flag or path in the documentation fails CI.
//
// Marking. A ```sh block runs when the line right before its opening fence is
//
//	<!-- readme-test: SESSION -->
//
// (an HTML comment: invisible on GitHub). Blocks of one session form one bash script, taken
// from README.md first and then docs/*.md in name order, each file top to bottom; so a block
// may move to another file (the README is to become a short front door) and keep running
// with the blocks it depends on. Each session runs in a fresh directory holding the
// repository's testdata/ and bin/hecrisk (the binary TestMain built; `hecrisk` is on PATH
// too), with `set -euo pipefail`.
//
// What the test changes, so the documented commands run unattended and side by side with
// other tests:
//   - the ports: every ":8088" becomes the test's HEC port, every ":8089" its API port, and
//     `hecrisk serve` gets --hec-addr and --api-addr for them;
//   - `make build` does nothing (the binary is built); any other make target fails;
//   - curl fails on an HTTP error (--fail-with-body), as a reader would notice one;
//   - background jobs (`serve ... &`) are stopped when the script ends.
//
// A session may state what its output must contain with a line in any of its blocks:
//
//	# readme-test-expect: TEXT
const readmeMarker = "<!-- readme-test: "

type readmeBlock struct {
	file    string
	line    int // of the opening fence
	session string
	text    string
}

// readmeBlocks finds the marked blocks of README.md and docs/*.md.
func readmeBlocks(t *testing.T, root string) []readmeBlock {
	t.Helper()
	files := []string{filepath.Join(root, "README.md")}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(docs)
	files = append(files, docs...)
	var out []readmeBlock
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			marker, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), readmeMarker)
			if !ok {
				continue
			}
			session := strings.TrimSpace(strings.TrimSuffix(marker, "-->"))
			if i+1 >= len(lines) || strings.TrimSpace(lines[i+1]) != "```sh" {
				t.Fatalf("%s:%d: a readme-test marker must be followed by a ```sh fence", rel, i+1)
			}
			start := i + 2
			end := start
			for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
				end++
			}
			if end == len(lines) {
				t.Fatalf("%s:%d: unterminated ```sh block", rel, i+2)
			}
			out = append(out, readmeBlock{file: rel, line: i + 2, session: session, text: strings.Join(lines[start:end], "\n")})
			i = end
		}
	}
	return out
}

func TestReadmeExamplesRun(t *testing.T) {
	root := repoRoot(t)
	blocks := readmeBlocks(t, root)
	sessions := map[string][]readmeBlock{}
	var order []string
	for _, b := range blocks {
		if _, ok := sessions[b.session]; !ok {
			order = append(order, b.session)
		}
		sessions[b.session] = append(sessions[b.session], b)
	}
	// Removing the markers must not make this test pass by running nothing.
	if len(sessions["walkthrough"]) == 0 {
		t.Fatal(`no block of session "walkthrough" is marked in README.md or docs/*.md`)
	}
	for _, name := range order {
		t.Run(name, func(t *testing.T) { runReadmeSession(t, root, sessions[name]) })
	}
}

var expectLine = regexp.MustCompile(`(?m)^\s*# readme-test-expect: (.+)$`)

func runReadmeSession(t *testing.T, root string, blocks []readmeBlock) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"bin/hecrisk": hecriskBin, "testdata": filepath.Join(root, "testdata")} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	hecAddr, apiAddr := freePort(t), freePort(t)
	hecPort, apiPort := hecAddr[strings.LastIndexByte(hecAddr, ':')+1:], apiAddr[strings.LastIndexByte(apiAddr, ':')+1:]

	var script strings.Builder
	script.WriteString(`set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null || true' EXIT
make() { if [ "$*" = build ]; then return 0; fi; echo "readme-test: make $* is not run here" >&2; return 1; }
curl() { command curl --fail-with-body "$@"; }
`)
	var expects []string
	for _, b := range blocks {
		text := strings.ReplaceAll(b.text, ":8088", ":"+hecPort)
		text = strings.ReplaceAll(text, ":8089", ":"+apiPort)
		text = strings.ReplaceAll(text, "hecrisk serve ", "hecrisk serve --hec-addr "+hecAddr+" --api-addr "+apiAddr+" ")
		fmt.Fprintf(&script, "echo '### %s:%d' >&2\n%s\n", b.file, b.line, text)
		for _, m := range expectLine.FindAllStringSubmatch(b.text, -1) {
			expects = append(expects, strings.TrimSpace(m[1]))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("the README's commands failed (%v): the last block started is the last ### line below.\nstderr:\n%s\nstdout:\n%s",
			err, lastLines(stderr.String(), 60), lastLines(stdout.String(), 40))
	}
	for _, want := range expects {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output lacks %q (a readme-test-expect line):\n%s", want, lastLines(stdout.String(), 60))
		}
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
