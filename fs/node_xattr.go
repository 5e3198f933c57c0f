package fs

import (
	"context"
	"strings"
	"syscall"
)

// Extended attributes every node inside an archive has.
const (
	// XattrArchive holds the archive's ID, "#DDMMYY-NN".
	XattrArchive = "user.discofs.archive"
	// XattrState holds where a file's content is: committed, local, queued, uploading or
	// failed.
	XattrState = "user.discofs.state"
)

var xattrNames = []byte(XattrArchive + "\x00" + XattrState + "\x00")

// Getxattr serves the discofs attributes; there are no others.
func (d *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var v string
	switch attr {
	case XattrArchive:
		v = "#" + d.archive.ID
	case XattrState:
		st := d.current().State
		if d.fsys.wr != nil {
			if s, ok := d.fsys.wr.State(d.StableAttr().Ino); ok {
				st = s
			}
		}
		v = st.String()
	default:
		return 0, missingXattr(attr)
	}
	return copyOut(dest, []byte(v))
}

// missingXattr is the error for an attribute the mount does not have: ENODATA in the
// user namespace, where discofs keeps its own, and ENOTSUP in the others (security.,
// system., trusted.), which it does not support at all. The difference matters to `ls
// -l`: after ENOTSUP for a file's SELinux label or ACL it stops asking for the rest of
// the mount, where ENODATA would cost two round trips to the mount per file listed.
func missingXattr(attr string) syscall.Errno {
	if strings.HasPrefix(attr, "user.") {
		return syscall.ENODATA
	}
	return syscall.ENOTSUP
}

// Listxattr lists the discofs attributes.
func (d *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return copyOut(dest, xattrNames)
}

// Listxattr lists nothing: the root belongs to no archive.
func (r *rootNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return 0, 0
}

// Getxattr finds nothing on the root.
func (r *rootNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return 0, missingXattr(attr)
}

// copyOut follows the xattr calls' convention: an empty dest asks for the size.
func copyOut(dest, v []byte) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(v)), 0
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}
