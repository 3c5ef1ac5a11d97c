// Package usage reads what a platform runs, for the catalog's gaps: the
// add-ons pinned in a platform repository and the apps of app repositories.
// It is apart from package catalog so that the catalog stays free of the
// add-on and generator packages.
package usage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/kube-idp/kube/internal/addons"
	"github.com/kube-idp/kube/internal/catalog"
	"github.com/kube-idp/kube/internal/generate"
	"github.com/kube-idp/kube/internal/spec"
)

// AddonUses reads every clusters/<cluster>/addons.yaml of a platform
// repository: each release is a use of its add-on.
func AddonUses(repo string) ([]catalog.Use, error) {
	files, err := filepath.Glob(filepath.Join(repo, addons.ClustersDir, "*", addons.FileName))
	if err != nil {
		return nil, err
	}
	var uses []catalog.Use
	for _, path := range files {
		f, err := addons.Load(path, repo)
		if err != nil {
			return nil, err
		}
		for _, r := range f.Releases {
			p := r.Loc.At("name")
			uses = append(uses, catalog.Use{Name: r.Name, Where: fmt.Sprintf("%s:%d:%d", path, p.Line, p.Column)})
		}
	}
	return uses, nil
}

// AppUses reads the kube-generate.yaml of each app repository.
func AppUses(repos []string) ([]catalog.Use, error) {
	var uses []catalog.Use
	for _, repo := range repos {
		path := filepath.Join(repo, spec.FileName)
		f, err := generate.LoadSpec(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not an app repository: it has no %s", repo, spec.FileName)
		} else if err != nil {
			return nil, err
		}
		uses = append(uses, catalog.Use{Name: f.App, Where: path})
	}
	return uses, nil
}
