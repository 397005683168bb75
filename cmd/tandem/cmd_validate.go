package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tandem-stream/tandem/deploy"
	"github.com/tandem-stream/tandem/io/registry"
	"github.com/tandem-stream/tandem/io/source/httpsource"
	"github.com/tandem-stream/tandem/lang/ast"
	"github.com/tandem-stream/tandem/lang/parser"
)

const validateUsage = `Usage: tandem validate [flags] FILE...

Parses and checks each Siddhi app: syntax, names, types, window and function
parameters, connector types, and query outputs against existing definitions;
then plans it as 'tandem run' would, which reports what Tandem does not run.
Every error is reported as file:line:col: message, followed by the offending
line with a caret under the column and, where one helps, a hint. Apps without
errors are listed as "FILE: ok" on standard output.

Exit status: 0 when every app is valid, 1 when any has an error, 2 on bad usage.

Flags:
`

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brief := fs.Bool("brief", false, "print only the file:line:col: message lines, without source excerpts and hints")
	fs.Usage = func() {
		fmt.Fprint(stderr, validateUsage)
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
	// Sources bind nothing until they start, so checking them needs no port.
	reg := registry.Default(httpsource.NewServers(slog.New(slog.DiscardHandler)))
	status := 0
	names := map[string]string{} // app name -> file
	for _, file := range fs.Args() {
		src, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "tandem validate: %v\n", err)
			status = 1
			continue
		}
		app, errs := validateApp(file, src, reg)
		if app != nil && len(errs) == 0 {
			if name := app.Name(); name != "" {
				if other, dup := names[name]; dup {
					errs.Add(file, appNamePos(app), fmt.Sprintf("app name %q is already used by %s", name, other))
				}
				names[name] = file
			}
		}
		if len(errs) == 0 {
			fmt.Fprintf(stdout, "%s: ok\n", file)
			continue
		}
		status = 1
		for _, e := range errs {
			if *brief {
				fmt.Fprintln(stderr, e.Error())
			} else {
				fmt.Fprint(stderr, e.Render(src))
			}
		}
	}
	return status
}

// validateApp parses one app and, when the syntax is right, checks it with
// SiddhiQL's rules and then plans it with the engine, which reports what
// Tandem does not run (so an app that validates also loads).
// validateApp loads the app as `tandem run` would: parse, check, plan and
// connector options, so an app that validates also loads.
func validateApp(file string, src []byte, conns deploy.Connectors) (*ast.App, ast.ErrorList) {
	plan, err := deploy.Load(file, src, conns)
	if err == nil {
		return plan.AST, nil
	}
	var list ast.ErrorList
	if !errors.As(err, &list) {
		list.Add(file, ast.Pos{}, err.Error())
	}
	app, _ := parser.Parse(file, src)
	return app, list
}

// appNamePos returns the position of the app's @app:name annotation.
func appNamePos(app *ast.App) ast.Pos {
	for _, a := range app.Annotations {
		if a.Name != "" && len(a.Elements) > 0 && app.Name() == a.Elements[0].Value {
			return a.Pos
		}
	}
	return ast.Pos{}
}
