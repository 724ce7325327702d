package query

import "fmt"

// Error is a user error in a statement: bad syntax, an unknown table or
// column, a wrong number of parameters, an unsupported construct. The
// emulator answers it with HTTP 400. Run returns it as *Error (possibly
// wrapped); test with errors.As.
type Error struct {
	// Msg is the message shown to the API caller.
	Msg string
}

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}
