package knowledge

import (
	"slices"
	"testing"
)

func TestScanKV(t *testing.T) {
	type pair struct{ k, v string }
	tests := []struct {
		name    string
		text    string
		escaped bool
		want    []pair
	}{
		{"plain pairs", `level=INFO source=sched.go:470 count=1`, false,
			[]pair{{"level", "INFO"}, {"source", "sched.go:470"}, {"count", "1"}}},
		{"quoted value", `msg="loaded runners" count=1`, false,
			[]pair{{"msg", "loaded runners"}, {"count", "1"}}},
		// auto: the quoted value ends at the first quote even after a backslash, then the
		// pairs of the URL query are found on their own.
		{"auto stops at backslash-quote",
			`msg="failed: Get \"https://h/u?arch=amd64&os=windows\": dial tcp" level=WARN`, false,
			// A backslash is an ordinary character in an unquoted value.
			[]pair{{"msg", `failed: Get \`}, {"arch", "amd64"}, {"os", `windows\`}, {"level", "WARN"}}},
		{"auto_escaped honours \\\" and \\\\",
			`msg="failed: Get \"https://h/u\": C:\\x" level=WARN`, true,
			[]pair{{"msg", `failed: Get "https://h/u": C:\x`}, {"level", "WARN"}}},
		{"dotted keys are cleaned", `memory.required.full="3.1 GiB" CPU.0.AVX=1 http.method=GET`, false,
			[]pair{{"memory_required_full", "3.1 GiB"}, {"CPU_0_AVX", "1"}, {"http_method", "GET"}}},
		{"pairs inside a quoted value", `args="[/SP /LOG=upgrade.log /SILENT]"`, false,
			[]pair{{"args", "[/SP /LOG=upgrade.log /SILENT]"}, {"LOG", "upgrade.log"}}},
		{"quoted key", `msg=Matched "inference compute"="{Library:cuda}" "model layers"=37`, false,
			[]pair{{"msg", "Matched"}, {"inference_compute", "{Library:cuda}"}, {"model_layers", "37"}}},
		{"spaces around = are not pairs", `llama_model_loader: - kv   0: general.architecture str = llama`, false, nil},
		{"empty values are dropped", `msg="" default="" x= y=1`, false, []pair{{"y", "1"}}},
		{"leading digits and underscores stripped", `_x=1 9lives=2 __=3`, false,
			[]pair{{"x", "1"}, {"lives", "2"}}},
		{"comparison operators", `a==b c!=d e>=f g=h`, false, []pair{{"g", "h"}}},
		{"windows path value keeps backslashes", `app=C:\Users\r\Ollama version=0.12.3`, false,
			[]pair{{"app", `C:\Users\r\Ollama`}, {"version", "0.12.3"}}},
		{"comma and semicolon end unquoted values", `a=1,b=2;c=3`, false,
			[]pair{{"a", "1"}, {"b", "2"}, {"c", "3"}}},
		{"unterminated quote runs to end of line", `msg="abc def`, false, []pair{{"msg", "abc def"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []pair
			scanKV(tc.text, tc.escaped, func(k, v string) { got = append(got, pair{k, v}) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("scanKV(%q)\n got %q\nwant %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestCleanKey(t *testing.T) {
	tests := map[string]string{
		"level":               "level",
		"http.method":         "http_method",
		"memory.gpu_overhead": "memory_gpu_overhead",
		"CPU.0.AVX":           "CPU_0_AVX",
		"_KEY":                "KEY",
		"0abc":                "abc",
		"_0_x":                "x",
		"a-b c":               "a_b_c",
		"___":                 "",
		"Build Number":        "Build_Number",
		"maxEfficiencyClass":  "maxEfficiencyClass",
	}
	for in, want := range tests {
		if got := cleanKey(in); got != want {
			t.Errorf("cleanKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFlattenJSON(t *testing.T) {
	var got []string
	out := flattenJSON(`{"model":"llama3.1","models":["a","b"],"opts":{"temp":0.7,"stop":null},"msgs":[{"role":"user"}],"done":true}`,
		DefaultMaxJSONDepth, func(k []byte, v string) { got = append(got, string(k)+"="+v) })
	if out != jsonFlattened {
		t.Fatal("not recognised as JSON")
	}
	want := []string{"done=true", "model=llama3.1", "models{}=a", "models{}=b", "msgs{}.role=user", "opts.stop=null", "opts.temp=0.7"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if flattenJSON(`[1,2]`, DefaultMaxJSONDepth, func([]byte, string) {}) != jsonNotObject {
		t.Error("a JSON array is not an object event")
	}
}
