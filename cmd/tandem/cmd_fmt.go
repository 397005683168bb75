package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
	"github.com/tandem-stream/tandem/lang/printer"
)

const fmtUsage = `Usage: tandem fmt [flags] FILE...

Prints each Siddhi app in canonical form: keywords in lower case, one clause
per line, and only the parentheses that operator precedence needs. Formatting
never changes what an app means: the formatted text parses to the same tree.
Comments are not kept, so -w refuses to rewrite a file that has any.

With several files and neither -w nor -l, each app is preceded by a
"-- FILE" comment line.

Exit status: 0 on success, 1 when a file cannot be read, parsed or written,
2 on bad usage.

Flags:
`

func cmdFmt(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("w", false, "write the result back to each file instead of printing it")
	list := fs.Bool("l", false, "only list the files whose formatting differs from canonical form")
	fs.Usage = func() {
		fmt.Fprint(stderr, fmtUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	status := 0
	for i, file := range fs.Args() {
		src, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "tandem fmt: %v\n", err)
			status = 1
			continue
		}
		out, err := formatApp(file, src)
		if err != nil {
			var errs ast.ErrorList
			if errors.As(err, &errs) {
				errs.Render(stderr, src)
			} else {
				fmt.Fprintf(stderr, "tandem fmt: %v\n", err)
			}
			status = 1
			continue
		}
		changed := !bytes.Equal(src, out)
		switch {
		case *list:
			if changed {
				fmt.Fprintln(stdout, file)
			}
		case *write:
			if !changed {
				continue
			}
			if parser.HasComments(src) {
				fmt.Fprintf(stderr, "tandem fmt: %s has comments, which formatting would drop; not rewritten\n", file)
				status = 1
				continue
			}
			if err := writeFileAtomic(file, out); err != nil {
				fmt.Fprintf(stderr, "tandem fmt: %v\n", err)
				status = 1
			}
		default:
			if fs.NArg() > 1 {
				if i > 0 {
					fmt.Fprintln(stdout)
				}
				fmt.Fprintf(stdout, "-- %s\n", file)
			}
			stdout.Write(out)
		}
	}
	return status
}

// formatApp returns the canonical text of an app. It checks that the text
// reads back as the same app (printing it again gives the same text), so a
// printer bug can never reach a file.
func formatApp(file string, src []byte) ([]byte, error) {
	app, err := parser.Parse(file, src)
	if err != nil {
		return nil, err
	}
	out := printer.App(app)
	again, err := parser.Parse(file, []byte(out))
	if err != nil {
		return nil, fmt.Errorf("%s: formatted text does not parse (a bug in tandem fmt): %w", file, err)
	}
	if printer.App(again) != out {
		return nil, fmt.Errorf("%s: formatted text does not read back the same (a bug in tandem fmt)", file)
	}
	return []byte(out), nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory, keeping the file's permissions.
func writeFileAtomic(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".fmt-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
