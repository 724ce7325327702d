//go:build !unix

package queue

import (
	"fmt"
	"os"
)

// lockDir creates dir. Without flock, nothing stops a second embedded
// server on the same directory: run one seaflow per storage dir.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	return nil, nil
}
