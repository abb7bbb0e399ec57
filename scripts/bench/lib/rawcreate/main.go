// Command rawcreate sends a list of objects to a kube-apiserver as fast as it takes them, with a
// fixed number of requests in flight: the server's own create rate, which bench-seed-limit.sh
// sets k8senv's seeding beside. Standard library only (no client-go: its rate limiter, its
// codecs and its retries would be measured too); the bodies are encoded before the clock starts.
//
// Usage:
//
//	rawcreate -server https://127.0.0.1:PORT -ca ca.crt -token token -objects FILE \
//	          -inflight N [-proto h2|h1] [-mode create|apply] [-namespace NS] [-split]
//
// FILE has one object a line: the collection path, a tab, the object's JSON. With -namespace,
// "/namespaces/<x>/" in each path and "namespace":"<x>" in each body name NS instead (so one
// file serves several runs on one server). -mode create POSTs each body to its collection;
// -mode apply PATCHes it to collection/NAME as server-side apply (fieldManager=k8senv,
// force=true), as k8senv seeds. -proto h2 multiplexes the requests on one HTTP/2 connection
// (what client-go and k8senv's client do); h1 opens up to N HTTP/1.1 keep-alive connections.
// -split sends each body as a stream of unknown length, so that over HTTP/2 the body goes in a
// DATA frame and the stream ends with an empty one, as AsyncHTTPClient (k8senv's client) sends
// it; without it the body's DATA frame ends the stream (what client-go does).
//
// Prints one line on standard output: objects=N seconds=S per_s=R already_exists=K (the clock
// runs from the first request to the last answer). A create answered 409 AlreadyExists counts
// as sent (the object is there) and in already_exists: on an empty namespace that is the
// server's fault, which the benchmark reports. Exits 1 on the first other answer outside 2xx,
// naming it.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// split: see -split.
var split bool

type object struct {
	method, url, contentType string
	body                     []byte
}

func main() {
	server := flag.String("server", "", "https://127.0.0.1:PORT")
	caFile := flag.String("ca", "", "the CA certificate (PEM) the server's certificate is signed by")
	tokenFile := flag.String("token", "", "a file holding the bearer token")
	objectsFile := flag.String("objects", "", "the objects: PATH<tab>JSON per line")
	inflight := flag.Int("inflight", 1, "requests in flight")
	proto := flag.String("proto", "h2", "h2 (one HTTP/2 connection) or h1 (N HTTP/1.1 connections)")
	mode := flag.String("mode", "create", "create (POST) or apply (server-side apply PATCH)")
	namespace := flag.String("namespace", "", "put every object in this namespace instead")
	flag.BoolVar(&split, "split", false, "end each request's stream with an empty DATA frame, as AsyncHTTPClient does")
	flag.Parse()
	if *server == "" || *caFile == "" || *tokenFile == "" || *objectsFile == "" || *inflight < 1 ||
		(*proto != "h1" && *proto != "h2") || (*mode != "create" && *mode != "apply") {
		fmt.Fprintln(os.Stderr, "rawcreate: -server, -ca, -token and -objects are needed; -inflight >= 1; -proto h1|h2; -mode create|apply")
		os.Exit(2)
	}
	pem, err := os.ReadFile(*caFile)
	check(err)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", *caFile)
	}
	token, err := os.ReadFile(*tokenFile)
	check(err)
	auth := "Bearer " + strings.TrimSpace(string(token))

	objects := read(*objectsFile, *server, *mode, *namespace)
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		MaxIdleConnsPerHost: *inflight,
		ForceAttemptHTTP2:   *proto == "h2",
	}
	if *proto == "h1" {
		// A non-nil empty map turns HTTP/2 off.
		transport.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}

	work := make(chan *object)
	errs := make(chan error, *inflight)
	var exists int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < *inflight; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if err := send(client, auth, o, &exists); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for i := range objects {
		work <- &objects[i]
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	select {
	case err := <-errs:
		fail("%v", err)
	default:
	}
	fmt.Printf("objects=%d seconds=%.3f per_s=%.1f already_exists=%d\n", len(objects), elapsed, float64(len(objects))/elapsed, atomic.LoadInt64(&exists))
}

func send(client *http.Client, auth string, o *object, exists *int64) error {
	request, err := http.NewRequest(o.method, o.url, bytes.NewReader(o.body))
	if err != nil {
		return err
	}
	// No GetBody: the transport cannot send a request twice behind our back (a create sent
	// again answers 409); a failed exchange is an error here.
	request.GetBody = nil
	if split {
		// A body whose length the transport does not know: it sends what it reads, then an
		// empty DATA frame with END_STREAM once the reader says EOF.
		request.Body = io.NopCloser(bytes.NewReader(o.body))
		request.ContentLength = -1
	}
	request.Header.Set("Authorization", auth)
	request.Header.Set("Accept", "application/json")
	request.Header.Set("Content-Type", o.contentType)
	request.Header.Set("User-Agent", "rawcreate")
	response, err := client.Do(request)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(response.Body)
	response.Body.Close()
	if response.StatusCode == http.StatusConflict && o.method == "POST" && bytes.Contains(answer, []byte(`"reason":"AlreadyExists"`)) {
		atomic.AddInt64(exists, 1)
		return nil
	}
	if response.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", o.method, o.url, response.StatusCode, bytes.TrimSpace(answer[:min(len(answer), 300)]))
	}
	return nil
}

var (
	pathNamespace = regexp.MustCompile(`/namespaces/[^/]+/`)
	bodyNamespace = regexp.MustCompile(`"namespace":"[^"]*"`)
)

func read(file, server, mode, namespace string) []object {
	f, err := os.Open(file)
	check(err)
	defer f.Close()
	var objects []object
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; scanner.Scan(); line++ {
		path, body, ok := strings.Cut(scanner.Text(), "\t")
		if !ok {
			fail("%s:%d: expected PATH<tab>JSON", file, line)
		}
		if namespace != "" {
			path = pathNamespace.ReplaceAllLiteralString(path, "/namespaces/"+namespace+"/")
			body = bodyNamespace.ReplaceAllLiteralString(body, `"namespace":"`+namespace+`"`)
		}
		var meta struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(body), &meta); err != nil || meta.Metadata.Name == "" {
			fail("%s:%d: not a JSON object with metadata.name (%v)", file, line, err)
		}
		o := object{method: "POST", url: server + path, contentType: "application/json", body: []byte(body)}
		if mode == "apply" {
			o = object{method: "PATCH", url: server + path + "/" + meta.Metadata.Name + "?fieldManager=k8senv&force=true",
				contentType: "application/apply-patch+yaml", body: []byte(body)}
		}
		objects = append(objects, o)
	}
	check(scanner.Err())
	return objects
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "rawcreate: "+format+"\n", args...)
	os.Exit(1)
}
