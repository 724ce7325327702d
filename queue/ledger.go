package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ledgerFile is where the embedded store's ledger lives, in the data dir
// beside the store (not inside it: a damaged store must not take it along).
const ledgerFile = "seaflow-ledger.json"

// ledger is what seaflow last saw of its streams: written at a clean close
// (Clean) with the final state, and at every integrity check while running.
// Open compares the recovered streams with it: messages stored then and
// missing now were lost (a truncated, deleted or corrupt block), since
// nothing takes a message out of a stopped store.
type ledger struct {
	Version int                   `json:"version"`
	Clean   bool                  `json:"clean"` // written by Close after the last client write
	Written time.Time             `json:"written"`
	Streams map[string]streamMark `json:"streams"`
}

// streamMark is one stream's state in the ledger.
type streamMark struct {
	First   uint64 `json:"first_seq"`
	Last    uint64 `json:"last_seq"`
	Msgs    uint64 `json:"messages"`
	Deleted uint64 `json:"deleted"` // interior deletes
	Lost    uint64 `json:"lost,omitempty"`
}

// readLedger reads dir's ledger; nil (no error) when there is none yet.
func readLedger(dir string) (*ledger, error) {
	b, err := os.ReadFile(filepath.Join(dir, ledgerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read storage ledger: %w", err)
	}
	var l ledger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("read storage ledger %s: %w", filepath.Join(dir, ledgerFile), err)
	}
	return &l, nil
}

// writeLedger replaces dir's ledger atomically (a temp file renamed over
// it), synced so a power cut leaves the old one or the new one.
func writeLedger(dir string, l *ledger) error {
	l.Version = 1
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("encode storage ledger: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ledgerFile+".*")
	if err != nil {
		return fmt.Errorf("write storage ledger: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write storage ledger: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write storage ledger: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write storage ledger: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ledgerFile)); err != nil {
		return fmt.Errorf("write storage ledger: %w", err)
	}
	return nil
}
