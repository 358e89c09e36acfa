//go:build ignore

// Command gen writes trivy.db: a small DB in trivy-db's schema v2 layout, written by Go's
// bbolt (go.etcd.io/bbolt), so the Rust reader is tested against a file from the
// implementation that writes the real trivy.db. It exercises branch pages (a bucket of 400
// keys), an inline bucket, an overflow page (a 20 KB value), deletes (a non-empty freelist)
// and several transactions.
//
// Regenerate (Debian: apt-get install golang-go golang-github-coreos-bbolt-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go trivy.db
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// advisory is trivy-db's types.Advisory as stored (omitempty everywhere, Status as an int).
type advisory struct {
	VendorIDs    []string `json:",omitempty"`
	Severity     int      `json:",omitempty"`
	FixedVersion string   `json:",omitempty"`
	Status       int      `json:",omitempty"`
}

type vulnerability struct {
	Title       string `json:",omitempty"`
	Description string `json:",omitempty"`
}

type dataSource struct {
	ID   string `json:",omitempty"`
	Name string `json:",omitempty"`
	URL  string `json:",omitempty"`
}

func put(b *bolt.Bucket, key string, v interface{}) error {
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), j)
}

func bucket(tx *bolt.Tx, names ...string) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(names[0]))
	for _, n := range names[1:] {
		if err != nil {
			return nil, err
		}
		b, err = b.CreateBucketIfNotExists([]byte(n))
	}
	return b, err
}

func main() {
	path := os.Args[1]
	os.Remove(path)
	db, err := bolt.Open(path, 0644, &bolt.Options{PageSize: 4096})
	if err != nil {
		panic(err)
	}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	// Transaction 1: the bulk.
	must(db.Update(func(tx *bolt.Tx) error {
		big, err := bucket(tx, "debian 12", "bigpkg")
		if err != nil {
			return err
		}
		vuln, err := bucket(tx, "vulnerability")
		if err != nil {
			return err
		}
		for i := 0; i < 400; i++ {
			id := fmt.Sprintf("CVE-2024-%05d", i)
			a := advisory{Severity: i % 5, Status: i % 8}
			if i%3 != 0 {
				a = advisory{FixedVersion: fmt.Sprintf("1.%d-1", i), Severity: i % 5}
			}
			if i%50 == 7 {
				a.VendorIDs = []string{fmt.Sprintf("DSA-%d-1", 5000+i)}
			}
			must(put(big, id, a))
			must(put(vuln, id, vulnerability{Title: "bigpkg issue " + id}))
		}
		long := strings.Repeat("A very long description. ", 800) // 20 KB: overflow pages
		must(put(vuln, "CVE-2024-99999", vulnerability{Title: "long one", Description: long}))
		tiny, err := bucket(tx, "debian 12", "tiny")
		if err != nil {
			return err
		}
		must(put(tiny, "CVE-2023-0001", advisory{Severity: 3, Status: 5}))
		ds, err := bucket(tx, "data-source")
		if err != nil {
			return err
		}
		return put(ds, "debian 12", dataSource{ID: "debian", Name: "Debian Security Tracker",
			URL: "https://salsa.debian.org/security-tracker-team/security-tracker"})
	}))
	// Transaction 2: deletes (every 10th key) leave free pages.
	must(db.Update(func(tx *bolt.Tx) error {
		big := tx.Bucket([]byte("debian 12")).Bucket([]byte("bigpkg"))
		for i := 0; i < 400; i += 10 {
			must(big.Delete([]byte(fmt.Sprintf("CVE-2024-%05d", i))))
		}
		return nil
	}))
	// Transaction 3: another platform and its data source.
	must(db.Update(func(tx *bolt.Tx) error {
		musl, err := bucket(tx, "alpine 3.23", "musl")
		if err != nil {
			return err
		}
		must(put(musl, "CVE-2025-26519", advisory{FixedVersion: "1.2.5-r9"}))
		must(put(musl, "CVE-2020-28928", advisory{FixedVersion: "0"}))
		ds := tx.Bucket([]byte("data-source"))
		return put(ds, "alpine 3.23", dataSource{ID: "alpine", Name: "Alpine Secdb",
			URL: "https://secdb.alpinelinux.org/"})
	}))
	must(db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}))
	must(db.Close())
}
