! examples/fortran/npy_io.f90 — minimal NumPy .npy files of doubles for the Fortran
! examples: write a (rows, cols) C-order array from a Fortran array a(cols, rows), read
! any little-endian float64 file back as a flat array. Writes are atomic (a temporary
! file beside the destination, then rename(2)).
module npy_io
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: int64
  implicit none
  private
  public :: npy_write, npy_read

  interface
    function c_rename(from, to) bind(C, name='rename') result(r)
      import :: c_char, c_int
      character(kind=c_char) :: from(*), to(*)
      integer(c_int) :: r
    end function
  end interface

contains

  !> Write a(cols, rows) as a .npy array of shape (rows, cols) ('<f8', C order).
  subroutine npy_write(path, a, ok)
    character(len=*), intent(in) :: path
    real(c_double), intent(in) :: a(:,:)
    logical, intent(out) :: ok
    character(len=128) :: dict
    character(len=:), allocatable :: header, tmp
    integer :: u, ios, hl
    write (dict, '(a,i0,a,i0,a)') "{'descr': '<f8', 'fortran_order': False, 'shape': (", &
      size(a, 2), ', ', size(a, 1), '), }'
    hl = len_trim(dict) + 1
    hl = hl + mod(64 - mod(10 + hl, 64), 64)
    header = trim(dict) // repeat(' ', hl - len_trim(dict) - 1) // achar(10)
    tmp = trim(path) // '.tmp'
    ok = .false.
    open (newunit=u, file=tmp, access='stream', form='unformatted', status='replace', &
          action='write', iostat=ios)
    if (ios /= 0) return
    write (u, iostat=ios) char(147) // 'NUMPY' // achar(1) // achar(0) // &
      achar(mod(hl, 256)) // achar(hl / 256) // header
    if (ios == 0) write (u, iostat=ios) a
    close (u)
    if (ios /= 0) return
    ok = c_rename(trim(tmp) // c_null_char, trim(path) // c_null_char) == 0
  end subroutine

  !> Read a little-endian float64 .npy file (version 1, 2 or 3) into a(:) in file order.
  subroutine npy_read(path, a, ok)
    character(len=*), intent(in) :: path
    real(c_double), allocatable, intent(out) :: a(:)
    logical, intent(out) :: ok
    character(len=6) :: magic
    character(len=1) :: ver(2), b(4)
    character(len=:), allocatable :: header
    integer :: u, ios, hl, pre
    integer(int64) :: sz, n
    ok = .false.
    open (newunit=u, file=path, access='stream', form='unformatted', status='old', &
          action='read', iostat=ios)
    if (ios /= 0) return
    read (u, iostat=ios) magic, ver
    if (ios /= 0 .or. magic /= char(147) // 'NUMPY') then
      close (u)
      return
    end if
    if (ichar(ver(1)) == 1) then
      read (u, iostat=ios) b(1:2)
      hl = ichar(b(1)) + 256 * ichar(b(2))
      pre = 10
    else
      read (u, iostat=ios) b
      hl = ichar(b(1)) + 256 * (ichar(b(2)) + 256 * (ichar(b(3)) + 256 * ichar(b(4))))
      pre = 12
    end if
    allocate (character(len=hl) :: header)
    if (ios == 0) read (u, iostat=ios) header
    if (ios /= 0 .or. index(header, "'<f8'") == 0 .or. index(header, 'False') == 0) then
      close (u)
      return
    end if
    inquire (unit=u, size=sz)
    n = (sz - pre - hl) / 8
    allocate (a(n))
    read (u, iostat=ios) a
    close (u)
    ok = ios == 0
  end subroutine

end module
