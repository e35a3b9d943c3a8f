// Command go_decls prints every top-level declaration of the Go files it is given,
// as Go's own parser sees them: path, name, doc comment line, first line, last line
// (tab-separated). tests/unit/test_views_goscan.py compares k8slab's Go scanner with it.
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
)

func main() {
	fset := token.NewFileSet()
	for _, path := range os.Args[1:] {
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			continue
		}
		for _, d := range f.Decls {
			var doc *ast.CommentGroup
			name := ""
			switch d := d.(type) {
			case *ast.FuncDecl:
				doc = d.Doc
				name = d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					t := d.Recv.List[0].Type
					if s, ok := t.(*ast.StarExpr); ok {
						t = s.X
					}
					switch x := t.(type) {
					case *ast.IndexExpr:
						t = x.X
					case *ast.IndexListExpr:
						t = x.X
					}
					name = t.(*ast.Ident).Name + "." + name
				}
			case *ast.GenDecl:
				if d.Tok == token.IMPORT {
					continue
				}
				doc = d.Doc
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						name = s.Name.Name
					case *ast.ValueSpec:
						name = s.Names[0].Name
					}
					if name != "" && name != "_" {
						break
					}
				}
			}
			start := fset.Position(d.Pos()).Line
			docl := start
			if doc != nil {
				docl = fset.Position(doc.Pos()).Line
			}
			fmt.Printf("%s\t%s\t%d\t%d\t%d\n", path, name, docl, start, fset.Position(d.End()).Line)
		}
	}
}
