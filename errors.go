package seaflow

import "errors"

// ErrConflict is wrapped by a compare-and-set store when the stored
// revision is not the one the caller read: another writer (a replica, a
// concurrent call) got there first, and the caller should load again.
var ErrConflict = errors.New("changed concurrently")
