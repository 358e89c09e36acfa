//go:build ignore

// Command check opens a trivy.db read-only with Go's bbolt, runs bbolt's consistency check
// (tx.Check) and prints the number of buckets and keys, and one key's value if given. Used to
// check that the Rust fixture writer's output is a sound BoltDB for Go (and so for Trivy):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run check.go DIR/db/trivy.db "debian 12" openssl CVE-2026-42767
package main

import (
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

func count(b *bolt.Bucket) (buckets, keys int) {
	b.ForEach(func(k, v []byte) error {
		if v == nil {
			nb, nk := count(b.Bucket(k))
			buckets += 1 + nb
			keys += nk
		} else {
			keys++
		}
		return nil
	})
	return
}

func main() {
	db, err := bolt.Open(os.Args[1], 0444, &bolt.Options{ReadOnly: true})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		buckets, keys := 0, 0
		tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			nb, nk := count(b)
			buckets += 1 + nb
			keys += nk
			return nil
		})
		fmt.Printf("check ok: %d buckets, %d keys\n", buckets, keys)
		if len(os.Args) > 2 {
			b := tx.Bucket([]byte(os.Args[2]))
			for _, n := range os.Args[3 : len(os.Args)-1] {
				if b == nil {
					break
				}
				b = b.Bucket([]byte(n))
			}
			if b != nil {
				fmt.Printf("%s\n", b.Get([]byte(os.Args[len(os.Args)-1])))
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println("check failed:", err)
		os.Exit(1)
	}
}
