// Package storage keeps the exporter's checkpoints on disk (--storage.path):
// one file per name, replaced atomically, versioned and checksummed. It knows
// nothing of what a checkpoint holds; the poller encodes and decodes its
// state, and this package guarantees that a reader gets exactly the bytes of
// one complete write, or an error.
//
// A write goes to a temporary file in the same directory, is synced, renamed
// over the old file, and the directory is synced: a crash (SIGKILL, power
// loss) at any moment leaves the old checkpoint or the new one, never a torn
// one. A file that is truncated, damaged, written by an incompatible version
// or not a checkpoint at all is reported as a *FormatError, so that the
// caller can start afresh and go on serving.
package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// Version is the version of the file format this build writes and reads.
const Version = 1

// Ext is the extension of checkpoint files.
const Ext = ".ckpt"

// MaxSize bounds what Read accepts: a checkpoint holds a bounded state, so a
// larger file is damaged or not ours.
const MaxSize = 1 << 30

// magic opens every checkpoint file.
const magic = "LDXC"

// headerSize is magic, version (2 bytes), reserved (2), payload length (8).
const headerSize = 4 + 2 + 2 + 8

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// FormatError says why a file is not a usable checkpoint.
type FormatError struct {
	Path   string
	Reason string
}

func (e *FormatError) Error() string { return e.Path + ": " + e.Reason }

// Dir is a directory of checkpoints. Its methods may be called concurrently
// for different names; one name must be written by one goroutine at a time.
type Dir struct {
	path string

	writes, writeFailures, loadFailures atomic.Uint64
}

// Open uses path as the checkpoint directory, creating it (and its parents)
// if missing, and removes temporary files that a crash left behind. Only a
// path that cannot be a directory (it names a file) is an error: a directory
// that cannot be created or written now makes every write fail, which is
// logged and counted, and polling goes on.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("storage: empty path")
	}
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("storage: %s is not a directory", path)
	}
	d := &Dir{path: path}
	if err := os.MkdirAll(path, 0o750); err != nil {
		return d, fmt.Errorf("storage: %w", err) // usable: writes will fail and be counted
	}
	if ents, err := os.ReadDir(path); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".tmp") {
				_ = os.Remove(filepath.Join(path, e.Name()))
			}
		}
	}
	return d, nil
}

// Path returns the directory.
func (d *Dir) Path() string { return d.path }

// File returns the path of the checkpoint called name.
func (d *Dir) File(name string) string { return filepath.Join(d.path, name+Ext) }

// Write replaces the checkpoint called name with payload: the previous
// checkpoint stays whole until the new one is on disk.
func (d *Dir) Write(name string, payload []byte) error {
	err := d.write(name, payload)
	if err != nil {
		d.writeFailures.Add(1)
		return fmt.Errorf("storage: %w", err)
	}
	d.writes.Add(1)
	return nil
}

func (d *Dir) write(name string, payload []byte) (err error) {
	final := d.File(name)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(Encode(payload)); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, final); err != nil {
		return err
	}
	// The rename is durable once the directory is synced.
	dir, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer func() { _ = dir.Close() }()
	return dir.Sync()
}

// Read returns the payload of the checkpoint called name: an error that
// wraps fs.ErrNotExist when there is none, a *FormatError when the file is
// not a complete checkpoint of this version.
func (d *Dir) Read(name string) ([]byte, error) {
	path := d.File(name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxSize {
		return nil, &FormatError{path, fmt.Sprintf("%d bytes, more than a checkpoint can hold (%d)", fi.Size(), MaxSize)}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	p, reason := Decode(b)
	if reason != "" {
		return nil, &FormatError{path, reason}
	}
	return p, nil
}

// ReportLoadFailure counts a checkpoint that could not be used (unreadable,
// damaged, incompatible, or written for another target).
func (d *Dir) ReportLoadFailure() { d.loadFailures.Add(1) }

// Remove deletes the checkpoint called name, if any.
func (d *Dir) Remove(name string) error {
	if err := os.Remove(d.File(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// Names lists the checkpoints in the directory.
func (d *Dir) Names() ([]string, error) {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), Ext); ok && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	return out, nil
}

// Stats are the directory's counters since Open.
type Stats struct {
	Writes, WriteFailures, LoadFailures uint64
}

// Stats returns the counters.
func (d *Dir) Stats() Stats {
	return Stats{Writes: d.writes.Load(), WriteFailures: d.writeFailures.Load(), LoadFailures: d.loadFailures.Load()}
}

// Encode wraps a payload in the file format: the magic, the version, the
// payload's length, the payload, and a CRC-32C of all that precedes it.
func Encode(payload []byte) []byte {
	b := make([]byte, 0, headerSize+len(payload)+4)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, Version)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// Decode unwraps what Encode made. It returns the payload, or why b is not
// a complete checkpoint of this version.
func Decode(b []byte) ([]byte, string) {
	switch {
	case len(b) == 0:
		return nil, "empty file"
	case len(b) < len(magic) || !bytes.Equal(b[:len(magic)], []byte(magic)):
		return nil, "not a checkpoint file (no " + magic + " header)"
	case len(b) < headerSize+4:
		return nil, fmt.Sprintf("truncated: %d bytes", len(b))
	}
	if v := binary.LittleEndian.Uint16(b[4:]); v != Version {
		return nil, fmt.Sprintf("format version %d, this build reads version %d", v, Version)
	}
	n := binary.LittleEndian.Uint64(b[8:])
	if n != uint64(len(b)-headerSize-4) {
		return nil, fmt.Sprintf("truncated or extended: the header says %d payload bytes, the file holds %d", n, len(b)-headerSize-4)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, "checksum mismatch: the file is damaged"
	}
	return body[headerSize:], ""
}
