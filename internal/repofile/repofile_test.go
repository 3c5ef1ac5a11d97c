package repofile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsVCS(t *testing.T) {
	for rel, want := range map[string]bool{
		".git/config": true, "a/.GIT/config": true, ".hg/hgrc": true, ".git": true,
		"config/app.yaml": false, ".github/workflows/x.yaml": false, "gitconfig": false, "x.git": false,
	} {
		if got := IsVCS(rel); got != want {
			t.Errorf("IsVCS(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestCheckFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, ".git", "config"), []byte("extraheader = AUTHORIZATION: basic x\n"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("a: 1\n"), 0o600)
	_ = os.MkdirAll(filepath.Join(dir, "config"), 0o755)
	if err := os.Symlink("../.git/config", filepath.Join(dir, "config", "x")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../.git", filepath.Join(dir, "config", "meta")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../app.yaml", filepath.Join(dir, "config", "ok")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{".git/config", "config/x", "config/meta/config"} {
		if err := Check(dir, rel); err == nil {
			t.Errorf("Check(%q) accepted version-control metadata", rel)
		}
	}
	for _, rel := range []string{"app.yaml", "config/ok", "missing.yaml"} {
		if err := Check(dir, rel); err != nil {
			t.Errorf("Check(%q) = %v", rel, err)
		}
	}
}
