// Package asttest holds helpers shared by the front end's tests: comparing
// trees without positions, visiting every position, and loading Siddhi's
// conformance cases.
package asttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"

	"github.com/tandem-stream/tandem/lang/ast"
)

var posType = reflect.TypeOf(ast.Pos{})

// ClearPos zeroes every ast.Pos reachable from v (a pointer) so that trees
// can be compared by shape.
func ClearPos(v any) {
	walk(reflect.ValueOf(v), func(p reflect.Value) {
		if p.CanSet() {
			p.Set(reflect.Zero(posType))
		}
	})
}

// ForEachPos calls fn with every ast.Pos in the tree rooted at v.
func ForEachPos(v any, fn func(ast.Pos)) {
	walk(reflect.ValueOf(v), func(p reflect.Value) { fn(p.Interface().(ast.Pos)) })
}

func walk(v reflect.Value, fn func(reflect.Value)) {
	seen := map[uintptr]bool{}
	var rec func(reflect.Value)
	rec = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			rec(v.Elem())
		case reflect.Interface:
			if !v.IsNil() {
				rec(v.Elem())
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				rec(v.Index(i))
			}
		case reflect.Struct:
			if v.Type() == posType {
				fn(v)
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					rec(v.Field(i))
				}
			}
		}
	}
	rec(v)
}

// Case is one conformance case, with the fields the front end needs.
type Case struct {
	Group       string
	ID          string  `json:"id"`
	App         string  `json:"app"`
	ExpectError *string `json:"expect_error"`
	Inputs      []struct {
		Query       string  `json:"query"`
		ExpectError *string `json:"expect_error"`
	} `json:"inputs"`
}

// ConformanceDir is where Siddhi's recorded test cases live, beside the
// repository (../shared/conformance); TANDEM_CONFORMANCE overrides it. depth
// is how many directories the calling package lies below the repository root.
func ConformanceDir(depth int) string {
	if d := os.Getenv("TANDEM_CONFORMANCE"); d != "" {
		return d
	}
	up := ".."
	for i := 0; i < depth; i++ {
		up = filepath.Join(up, "..")
	}
	return filepath.Join(up, "shared", "conformance")
}

// LoadCases reads every case in dir. It returns nil when dir holds none.
func LoadCases(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var all []Case
	for _, f := range files {
		group := filepath.Base(f)
		group = group[:len(group)-len(".json")]
		if group == "index" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var cases []Case
		if err := json.Unmarshal(b, &cases); err != nil {
			return nil, &os.PathError{Op: "decode", Path: f, Err: err}
		}
		for i := range cases {
			cases[i].Group = group
		}
		all = append(all, cases...)
	}
	return all, nil
}
