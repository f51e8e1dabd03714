package storage

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") // created with its parents
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read("t1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read before any write: %v, want not exist", err)
	}
	for _, p := range [][]byte{{}, []byte("first"), bytes.Repeat([]byte{0xff}, 70_000)} {
		if err := d.Write("t1", p); err != nil {
			t.Fatal(err)
		}
		got, err := d.Read("t1")
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("read %d bytes, %v; want the %d written", len(got), err, len(p))
		}
	}
	if err := d.Write("t2", []byte("x")); err != nil {
		t.Fatal(err)
	}
	names, err := d.Names()
	if err != nil || !slices.Equal(names, []string{"t1", "t2"}) {
		t.Fatalf("names %v, %v", names, err)
	}
	if err := d.Remove("t1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove("t1"); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if s := d.Stats(); s.Writes != 4 || s.WriteFailures != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Every damage a crash, a bad disk or a wrong file can do is a FormatError
// naming the file: every truncation, every single flipped bit, a file that
// grew, another version, another format.
func TestDamagedFilesAreFormatErrors(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good := Encode([]byte("counters and histograms"))
	check := func(what string, b []byte) {
		t.Helper()
		if err := os.WriteFile(d.File("t"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := d.Read("t")
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Path != d.File("t") {
			t.Fatalf("%s: %v, want a FormatError for %s", what, err, d.File("t"))
		}
	}
	for n := range len(good) {
		check("truncated", good[:n])
	}
	for i := range len(good) * 8 {
		b := slices.Clone(good)
		b[i/8] ^= 1 << (i % 8)
		check("bit flipped", b)
	}
	check("extended", append(slices.Clone(good), 0))
	b := Encode([]byte("x"))
	b[4] = 9 // version 9
	check("another version", b)
	check("another format", []byte("{\"json\": true}"))
}

func TestReadRefusesHugeFiles(t *testing.T) {
	d, _ := Open(t.TempDir())
	f, err := os.Create(d.File("t"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxSize + 1); err != nil {
		t.Skip("sparse file:", err)
	}
	_ = f.Close()
	var fe *FormatError
	if _, err := d.Read("t"); !errors.As(err, &fe) || !strings.Contains(fe.Reason, "more than a checkpoint can hold") {
		t.Fatalf("read: %v", err)
	}
}

// A write that cannot be done leaves the previous checkpoint readable and is
// counted; Open does not fail on a directory it cannot create.
func TestFailingWritesKeepTheOldCheckpoint(t *testing.T) {
	root := t.TempDir()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write("t", []byte("old")); err != nil {
		t.Fatal(err)
	}
	// The temporary file's name is taken by a directory: the write fails
	// before the rename (as on a full disk), whoever runs the test.
	if err := os.Mkdir(d.File("t")+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := d.Write("t", []byte("new")); err == nil {
		t.Fatal("write succeeded")
	}
	if got, err := d.Read("t"); err != nil || string(got) != "old" {
		t.Fatalf("after a failed write: %q, %v; want the old checkpoint", got, err)
	}
	if s := d.Stats(); s.WriteFailures != 1 || s.Writes != 1 {
		t.Fatalf("stats %+v", s)
	}

	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("open on a file: %v", err)
	}
	d2, err := Open(filepath.Join(file, "sub"))
	if err == nil || d2 == nil {
		t.Fatalf("open under a file: %v, %v; want a usable Dir and the error", d2, err)
	}
	if err := d2.Write("t", nil); err == nil {
		t.Fatal("write under a file succeeded")
	}
}

// Temporary files a crash left behind are removed at Open; checkpoints stay.
func TestOpenRemovesLeftoverTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d, _ := Open(root)
	if err := d.Write("t", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.File("u")+".tmp", []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 || ents[0].Name() != "t"+Ext {
		t.Fatalf("left: %v", ents)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode([]byte("payload")))
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, reason := Decode(b)
		if reason == "" && !bytes.Equal(Encode(p), b) {
			t.Fatalf("accepted %x, which is not the encoding of its payload", b)
		}
	})
}
