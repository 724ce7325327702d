package emulator

import "context"

// WaitFor blocks until cond returns true, re-checking it after every call
// the emulator answers and every edit, or until ctx ends. Tests use it to
// wait for seaflow's writes without polling or sleeping. cond may call the
// emulator's own methods (Rows, Stats, …).
func (e *Emulator) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := e.changes()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// changes returns a channel closed at the next call or edit.
func (e *Emulator) changes() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return e.changed
}

// notifyLocked wakes every WaitFor. Callers hold e.mu.
func (e *Emulator) notifyLocked() {
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}
