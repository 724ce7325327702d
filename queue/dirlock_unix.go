//go:build unix

package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir, so two embedded servers never
// write one store (nats-server itself does not guard against it). The lock
// is released by closing the returned file, or by the process ending.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "seaflow.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("storage dir %s is in use by another seaflow", dir)
		}
		return nil, fmt.Errorf("storage dir lock: %w", err)
	}
	return f, nil
}
