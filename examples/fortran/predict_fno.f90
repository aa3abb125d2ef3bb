! examples/fortran/predict_fno.f90 — a trained FNO inside a simulation's time loop.
!
! A simulation code written in Fortran loads the θ of an FNO-1D trained by `nde train`
! (examples/configs/burgers_fno.ini) and uses it as its time stepper: the Burgers FNO maps
! u(·, 0) to u(·, 1), so each "time step" replaces the field by the FNO's prediction. Every
! step prints the field's RMS norm. With OUT given, the fields fed to the FNO are written
! to OUT_a.npy (steps, s) and its predictions to OUT_u.npy, so `nde predict CKPT OUT.npy`
! can check them independently.
!
!   predict_fno CHECKPOINT [OUT] [--s S] [--width W] [--modes M] [--layers L]
!               [--proj P] [--steps N] [--float64]
!   predict_fno --compare A.npy B.npy TOL     (max |a - b| <= TOL * max(1, max |b|))
!
! The architecture options must match the [model] section the checkpoint was trained with
! (defaults: s 64, width 32, modes 12, layers 4, proj 64, steps 8 — burgers_fno.ini);
! --float64 for a model trained with model.precision = float64 (default float32 layers).
program predict_fno
  use, intrinsic :: iso_c_binding
  use, intrinsic :: iso_fortran_env, only: error_unit
  use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
  use nde
  use npy_io
  implicit none
  integer :: s = 64, width = 32, modes = 12, layers = 4, proj = 64, steps = 8
  character(len=4096) :: ckpt = '', out = '', arg
  integer :: i, nargs, npos
  type(nde_ctx) :: ctx
  type(nde_model) :: fno
  real(c_double), allocatable :: u(:), unew(:), inputs(:,:), outputs(:,:)
  real(c_double), parameter :: pi = 3.14159265358979323846d0
  logical :: okw, double64 = .false.

  nargs = command_argument_count()
  call get_command_argument(1, arg)
  if (trim(arg) == '--compare') call compare_mode()
  if (trim(arg) == '--help' .or. trim(arg) == '-h') then
    print '(a)', 'usage: predict_fno CHECKPOINT [OUT] [--s S] [--width W] [--modes M] [--layers L]'
    print '(a)', '                   [--proj P] [--steps N] [--float64]'
    print '(a)', '       predict_fno --compare A.npy B.npy TOL'
    stop
  end if
  npos = 0
  i = 1
  do while (i <= nargs)
    call get_command_argument(i, arg)
    select case (trim(arg))
    case ('--s');      s = int_arg(i)
    case ('--width');  width = int_arg(i)
    case ('--modes');  modes = int_arg(i)
    case ('--layers'); layers = int_arg(i)
    case ('--proj');   proj = int_arg(i)
    case ('--steps');  steps = int_arg(i)
    case ('--float64'); double64 = .true.
    case default
      if (arg(1:1) == '-') call usage_error('unknown option ' // trim(arg))
      npos = npos + 1
      if (npos == 1) then
        ckpt = arg
      else if (npos == 2) then
        out = arg
      else
        call usage_error('too many arguments')
      end if
    end select
    i = i + 1
  end do
  if (npos < 1) call usage_error('CHECKPOINT is required')

  ! The model: the architecture of the [model] section, θ from the checkpoint.
  call check(nde_ctx_create(ctx), 'context')
  call check(nde_model_fno_create(fno, ctx, [s], width=width, modes=[modes], layers=layers, &
                                  proj_hidden=proj, double64=double64), 'FNO')
  call check(nde_checkpoint_load(fno, trim(ckpt)), 'checkpoint')
  call check(nde_model_set_training(fno, .false.), 'evaluation mode')
  print '(a,a,a,i0,a)', 'predict_fno: ', trim(ckpt), ' (', nde_model_n_params(fno), ' parameters)'

  ! The time loop: u ← FNO(u), one sample per call, as a solver's step would do.
  allocate (u(s), unew(s), inputs(s, steps), outputs(s, steps))
  u = [(sin(2 * pi * (i - 1) / s) + 0.5d0 * cos(6 * pi * (i - 1) / s), i = 1, s)]
  print '(a,i3,a,es14.6)', 'step ', 0, '  rms(u) ', sqrt(sum(u**2) / s)
  do i = 1, steps
    inputs(:, i) = u
    call check(nde_model_forward(fno, u, unew, 1), 'forward')
    if (.not. all(ieee_is_finite(unew))) then
      write (error_unit, '(a,i0)') 'predict_fno: non-finite prediction at step ', i
      stop 1
    end if
    outputs(:, i) = unew
    u = unew
    print '(a,i3,a,es14.6)', 'step ', i, '  rms(u) ', sqrt(sum(u**2) / s)
  end do

  if (len_trim(out) > 0) then
    call npy_write(trim(out) // '_a.npy', inputs, okw)
    if (okw) call npy_write(trim(out) // '_u.npy', outputs, okw)
    if (.not. okw) then
      write (error_unit, '(a,a)') 'predict_fno: cannot write ', trim(out) // '_{a,u}.npy'
      stop 1
    end if
  end if
  call nde_model_destroy(fno)
  call nde_ctx_destroy(ctx)
  deallocate (u, unew, inputs, outputs)

contains

  subroutine check(st, what)
    integer, intent(in) :: st
    character(len=*), intent(in) :: what
    if (st /= NDE_OK) then
      write (error_unit, '(a,a,a,a)') 'predict_fno: ', what, ': ', nde_last_error()
      stop 1
    end if
  end subroutine

  subroutine usage_error(msg)
    character(len=*), intent(in) :: msg
    write (error_unit, '(a,a,a)') 'predict_fno: ', msg, ' (try --help)'
    stop 2
  end subroutine

  ! The value after option i as an integer >= 1 (digits only); i moves past it.
  integer function int_arg(i) result(v)
    integer, intent(inout) :: i
    character(len=64) :: a
    character(len=64) :: opt
    integer :: ios
    call get_command_argument(i, opt)
    i = i + 1
    if (i > nargs) call usage_error(trim(opt) // ' needs a value')
    call get_command_argument(i, a)
    if (len_trim(a) == 0 .or. len_trim(a) > 9 .or. verify(trim(a), '0123456789') /= 0) &
      call usage_error(trim(opt) // ' ' // trim(a) // ': expected an integer >= 1')
    read (a, *, iostat=ios) v
    if (ios /= 0 .or. v < 1) call usage_error(trim(opt) // ' ' // trim(a) // ': expected an integer >= 1')
  end function

  subroutine compare_mode()
    character(len=4096) :: fa, fb, ft
    real(c_double), allocatable :: a(:), b(:)
    real(c_double) :: tol, diff, scale
    logical :: oka, okb
    integer :: ios
    if (nargs /= 4) call usage_error('--compare A.npy B.npy TOL')
    call get_command_argument(2, fa)
    call get_command_argument(3, fb)
    call get_command_argument(4, ft)
    read (ft, *, iostat=ios) tol
    if (ios /= 0 .or. .not. (tol >= 0)) call usage_error('--compare: bad tolerance ' // trim(ft))
    call npy_read(trim(fa), a, oka)
    call npy_read(trim(fb), b, okb)
    if (.not. (oka .and. okb)) then
      write (error_unit, '(a)') 'predict_fno --compare: cannot read ' // trim(fa) // ' or ' // trim(fb)
      stop 1
    end if
    if (size(a) /= size(b) .or. size(a) == 0) then
      write (error_unit, '(a,i0,a,i0)') 'predict_fno --compare: sizes differ: ', size(a), ' vs ', size(b)
      stop 1
    end if
    diff = maxval(abs(a - b))
    scale = max(1d0, maxval(abs(b)))
    print '(a,i0,a,es10.3,a,es10.3)', 'compare: ', size(a), ' values, max |a - b| = ', diff, &
          ', tolerance ', tol * scale
    deallocate (a, b)
    if (.not. (diff <= tol * scale)) then
      write (error_unit, '(a)') 'predict_fno --compare: predictions differ beyond the tolerance'
      stop 1
    end if
    stop
  end subroutine

end program
