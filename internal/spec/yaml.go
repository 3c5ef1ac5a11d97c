package spec

import "github.com/kube-idp/kube/internal/strictyaml"

// The spec's positions and errors are those of the strict YAML decoder.
type (
	Pos    = strictyaml.Pos
	Loc    = strictyaml.Loc
	Error  = strictyaml.Error
	Errors = strictyaml.Errors
)
