package iowrap_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"time"

	"github.com/ecelerity-go/ecelerity/iowrap"
)

func Example() {
	reg := iowrap.NewRegistry()

	// A memory file, shared by name.
	f, _ := reg.Open("mem://greeting", os.O_RDWR|os.O_CREATE, 0o644)
	io.WriteString(f, "hello, world")
	f.Seek(7, io.SeekStart)
	rest, _ := io.ReadAll(f)
	f.Close()
	fmt.Printf("%s\n", rest)

	// A synthetic driver, as a module would register one.
	reg.Register("motd", iowrap.DriverFunc(func(_ context.Context, u *url.URL, _ int, _ fs.FileMode) (iowrap.File, error) {
		return iowrap.NewBytesFile(u.String(), []byte("message of the day for "+u.Host), time.Time{}), nil
	}))
	data, _ := reg.ReadFile(context.Background(), "motd://example.com", 0)
	fmt.Printf("%s\n", data)

	// Errors are POSIX-like.
	_, err := reg.Open("mem://absent", os.O_RDONLY, 0)
	fmt.Println(errors.Is(err, fs.ErrNotExist), err)
	// Output:
	// world
	// message of the day for example.com
	// true open mem://absent: no such file or directory
}
