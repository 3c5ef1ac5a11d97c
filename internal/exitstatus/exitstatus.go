// Package exitstatus is the exit-status contract of kube's errors
// (docs/exit-codes.md): a domain package marks an error with its code, and
// the CLI maps every such error in one place (cli.exitStatusOf).
package exitstatus

// BadInput is input kube cannot work with: a flag's value, a file, a name
// that does not exist. Nothing ran. The CLI exits 2.
type BadInput struct{ Err error }

// Input marks err as bad input.
func Input(err error) error { return &BadInput{Err: err} }

func (e *BadInput) Error() string { return e.Err.Error() }
func (e *BadInput) Unwrap() error { return e.Err }

// ExitStatus is 2.
func (e *BadInput) ExitStatus() int { return 2 }
